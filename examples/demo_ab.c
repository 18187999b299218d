/*
 * demo_ab.c -- a narrated A/B update of one simulated device, with a power
 * cut in the middle of the download and a bad release caught by its own
 * health check.
 *
 * The device is a simulated NOR flash (4 KiB sectors) holding the slot
 * records and two 64 KiB slots. Every "power on" starts from the flash
 * contents alone and goes through the simulated boot loader, exactly as
 * the tests do.
 *
 * Usage: demo_ab [--cut-at N] [--seed S]
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl/bootsim.h"
#include "fl/bytes.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/flash_sim.h"
#include "fl/installer.h"
#include "fl/slots.h"

#define SECTOR	    4096u
#define SLOT_BYTES  (16u * SECTOR)
#define FLASH_BYTES (4u * SECTOR + 2u * SLOT_BYTES)

static const struct fl_flash_geom geom = {FLASH_BYTES, SECTOR, 1, 0xFF};
static uint8_t flash_mem[FLASH_BYTES];

struct device {
	struct fl_sim sim;
	struct fl_slots_config cfg;
	struct fl_slots scratch;
	struct fl_boot_status handoff;
	struct fl_boot boot;
	struct fl_slots slots;
};

struct image {
	uint8_t data[SLOT_BYTES];
	uint32_t len;
	uint8_t sha256[FL_SHA256_BYTES];
	const char *version;
	uint64_t counter;
};

static const char *const state_names[] = {"empty", "writing",	"staged",
					  "trial", "confirmed", "bad"};
static const char *const outcome_names[] = {"none",	"writing",   "staged",
					    "on trial", "committed", "failed",
					    "reverted"};
static const char *const reason_names[] = {"-",
					   "digest mismatch",
					   "flash error",
					   "trial not confirmed",
					   "rejected by its health check",
					   "image corrupt at boot",
					   "cancelled",
					   "reverted by the boot loader"};

static void say(const char *who, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(const char *who, const char *fmt, ...)
{
	va_list ap;

	printf("  %-8s ", who);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "demo: %s: %s\n", what, fl_strerror(rc));
	exit(1);
}

static void make_image(struct image *img, uint32_t len, uint32_t seed,
		       const char *version, uint64_t counter)
{
	uint32_t x = seed * 2654435761u + 7;

	for (uint32_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		img->data[i] = (uint8_t)(x >> 16);
	}
	img->len = len;
	img->version = version;
	img->counter = counter;
	fl_sha256(&fl_crypto_openssl, img->data, len, img->sha256);
}

static void config(struct device *d)
{
	memset(&d->cfg, 0, sizeof(d->cfg));
	fl_area_init(&d->cfg.meta, &d->sim.flash, 0, 4 * SECTOR);
	fl_area_init(&d->cfg.slot[0], &d->sim.flash, 4 * SECTOR, SLOT_BYTES);
	fl_area_init(&d->cfg.slot[1], &d->sim.flash, 4 * SECTOR + SLOT_BYTES,
		     SLOT_BYTES);
	d->cfg.crypto = &fl_crypto_openssl;
	d->cfg.boot = &d->boot;
	d->cfg.trial_tries = 1;
}

static void describe_slots(struct device *d)
{
	for (unsigned i = 0; i < FL_SLOT_COUNT; i++) {
		const struct fl_slot_info *in = &d->slots.info[i];

		say("", "slot %c: %-9s %s", i == 0 ? 'A' : 'B',
		    state_names[in->state],
		    in->state == FL_SLOT_EMPTY ? "" : in->version);
	}
}

/* Power on from the flash contents alone. */
static void power_on(struct device *d, const struct fl_sim_faults *faults,
		     uint8_t reset_reason, const char *why)
{
	int rc;

	memset(d, 0, sizeof(*d));
	fl_sim_init(&d->sim, &geom, flash_mem, faults);
	config(d);
	printf("\n  -- power on (%s) --\n", why);
	rc = fl_bootsim_power_on(&d->scratch, &d->cfg, reset_reason,
				 &d->handoff);
	if (rc != 0)
		die("boot loader", rc);
	fl_boot_native_init(&d->boot, &d->handoff);
	rc = fl_slots_open(&d->slots, &d->cfg);
	if (rc != 0)
		die("open slots", rc);
	say("[boot]", "booted slot %c: %s%s%s",
	    d->handoff.booted_slot == 0 ? 'A' : 'B',
	    d->slots.info[d->handoff.booted_slot].version,
	    d->handoff.is_trial ? " ON TRIAL (one try, already spent)" : "",
	    d->handoff.is_reverted
		    ? " (the trial of the other slot was abandoned)"
		    : "");
	describe_slots(d);
}

static void report_attempt(struct device *d)
{
	struct fl_attempt att;

	if (fl_slots_attempt(&d->slots, &att) != 0) {
		say("[agent]", "no update attempt on record");
		return;
	}
	say("[agent]", "attempt %u (%s -> %s): %s%s%s", att.id,
	    att.prev_version, att.version, outcome_names[att.outcome],
	    att.reason ? ", because: " : "",
	    att.reason ? reason_names[att.reason] : "");
}

static uint32_t install(struct device *d, const struct image *img,
			uint32_t attempt, uint32_t from, int *is_cut)
{
	struct fl_install_target t;
	struct fl_install in;
	uint32_t checkpoint = 0;
	int rc;

	memset(&t, 0, sizeof(t));
	t.attempt_id = attempt;
	t.image_len = img->len;
	memcpy(t.sha256, img->sha256, FL_SHA256_BYTES);
	t.counter = img->counter;
	fl_strlcpy(t.version, img->version, sizeof(t.version));
	if (from == UINT32_MAX) {
		rc = fl_install_begin(&in, &d->slots, &t);
		if (rc != 0)
			die("begin", rc);
		say("[agent]",
		    "install %s into slot %c: its record now says "
		    "WRITING, before any byte is written",
		    img->version, in.slot == 0 ? 'A' : 'B');
	} else {
		rc = fl_install_resume(&in, &d->slots, &t, from);
		if (rc != 0)
			die("resume", rc);
		say("[agent]",
		    "resume attempt %u at byte %u (re-hashed the "
		    "%u bytes already in flash)",
		    attempt, in.written, in.written);
	}
	for (uint32_t off = in.written; off < img->len;) {
		uint32_t n = img->len - off < 1500 ? img->len - off : 1500;

		rc = fl_install_write(&in, img->data + off, n);
		if (rc == FL_EPOWER) {
			printf("\n  *** POWER CUT during flash operation %u "
			       "(a torn write), %u of %u bytes downloaded "
			       "***\n",
			       d->sim.ops, off, img->len);
			*is_cut = 1;
			return checkpoint;
		}
		if (rc != 0)
			die("write", rc);
		off += n;
		if (off % (8 * 1024) < n) {
			rc = fl_install_checkpoint(&in, &checkpoint);
			if (rc != 0)
				die("checkpoint", rc);
			say("[agent]", "%5u bytes written, checkpoint at %u",
			    off, checkpoint);
		}
	}
	rc = fl_install_finish(&in);
	if (rc != 0)
		die("finish", rc);
	say("[agent]",
	    "finish: synced, read all %u bytes back, SHA-256 "
	    "matches: slot is STAGED",
	    img->len);
	rc = fl_install_activate(&in);
	if (rc != 0)
		die("activate", rc);
	say("[agent]", "activate: slot on TRIAL for the next boot; the "
		       "confirmed slot is untouched");
	*is_cut = 0;
	return 0;
}

int main(int argc, char **argv)
{
	static struct image v1, v2, v3;
	static struct device dev;
	struct fl_sim_faults cut = {.cut_mode = FL_SIM_CUT_TORN, .seed = 7};
	uint32_t checkpoint;
	int is_cut, rc;

	cut.cut_at = 61;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--cut-at") == 0 && i + 1 < argc)
			cut.cut_at = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			cut.seed = strtoull(argv[++i], NULL, 10);
		else {
			fprintf(stderr,
				"usage: demo_ab [--cut-at N] [--seed S]\n");
			return 2;
		}
	}
	make_image(&v1, 24 * 1024, 1, "1.0.0", 1);
	make_image(&v2, 40 * 1024 + 123, 2, "2.0.0", 2);
	make_image(&v3, 36 * 1024 + 7, 3, "3.0.0-bad", 3);

	printf("== fleet demo: one device, A/B slots, a power cut, a bad "
	       "release ==\n");
	printf("  flash: %u KiB NOR, %u-byte sectors; slot records in two "
	       "copies with CRC\n",
	       FLASH_BYTES / 1024, SECTOR);

	/* Factory. */
	fl_sim_init(&dev.sim, &geom, flash_mem, NULL);
	fl_sim_wipe(&dev.sim);
	config(&dev);
	memcpy(flash_mem + 4 * SECTOR, v1.data, v1.len);
	if ((rc = fl_slots_init(&dev.slots, &dev.cfg)) != 0 ||
	    (rc = fl_slots_provision(&dev.slots, 0, v1.len, v1.sha256,
				     v1.version, v1.counter)) != 0)
		die("provision", rc);
	say("[factory]", "image 1.0.0 written to slot A and provisioned");

	power_on(&dev, NULL, FL_RESET_POWER_ON, "first start");

	printf("\n  -- update offered: 2.0.0 (%u bytes) --\n", v2.len);
	dev.sim.faults = cut;
	dev.sim.ops = 0;
	checkpoint = install(&dev, &v2, 7, UINT32_MAX, &is_cut);
	if (is_cut) {
		power_on(&dev, NULL, FL_RESET_BROWNOUT, "after the power cut");
		report_attempt(&dev);
		checkpoint = install(&dev, &v2, 7, checkpoint, &is_cut);
	}
	power_on(&dev, NULL, FL_RESET_SOFTWARE, "reboot into the new image");
	say("[agent]", "health check: booted, reached the broker, metrics "
		       "within limits: OK");
	if ((rc = fl_slots_confirm(&dev.slots)) != 0)
		die("confirm", rc);
	say("[agent]",
	    "confirm: slot B CONFIRMED (the commit point); "
	    "anti-rollback floor now %llu",
	    (unsigned long long)fl_slots_floor(&dev.slots));
	report_attempt(&dev);

	printf("\n  -- update offered: 3.0.0-bad (%u bytes) --\n", v3.len);
	install(&dev, &v3, 8, UINT32_MAX, &is_cut);
	power_on(&dev, NULL, FL_RESET_SOFTWARE, "reboot into the new image");
	say("[agent]", "health check: crash_count 3 > 0: FAILED");
	if ((rc = fl_slots_reject(&dev.slots, FL_REASON_REJECTED)) != 0)
		die("reject", rc);
	say("[agent]", "reject: slot A marked BAD; rebooting");
	power_on(&dev, NULL, FL_RESET_SOFTWARE, "after the rejection");
	report_attempt(&dev);

	printf("\n== done: 2.0.0 runs confirmed; nothing was bricked, and the "
	       "device can say what happened to every attempt ==\n");
	return 0;
}
