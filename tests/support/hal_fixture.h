/*
 * hal_fixture.h -- a simulated device for HAL tests: one simulated flash
 * holding a metadata area and two slots, images made from a seed, and a
 * power-on that starts from the flash contents alone.
 *
 * Nothing in struct fl_dev_boot survives a reboot except what the test
 * copies out of it on purpose: every boot re-creates the simulator, the
 * slot manager and the boot handoff from dev->mem.
 */
#ifndef FL_HAL_FIXTURE_H
#define FL_HAL_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fl/bootsim.h"
#include "fl/bytes.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/flash_sim.h"
#include "fl/installer.h"
#include "fl/slots.h"

struct fl_layout {
	const char *name;
	struct fl_flash_geom geom;
	uint32_t meta_off, slot_off[2], slot_size;
	uint32_t env_off; /* two erase units for the external boot loader */
};

/* The three geometries of the power-cut sweep. */
static const struct fl_layout fl_layouts[] = {
	{"nor-4k-w1",
	 {6 * 4096 + 2 * 65536, 4096, 1, 0xFF},
	 0,
	 {4 * 4096, 4 * 4096 + 65536},
	 65536,
	 4 * 4096 + 2 * 65536},
	{"big-128k-w16",
	 {6 * 131072 + 2 * 262144, 131072, 16, 0xFF},
	 0,
	 {4 * 131072, 4 * 131072 + 262144},
	 262144,
	 4 * 131072 + 2 * 262144},
	/* ESP32-like: 4 KiB sectors, 16-byte writes (flash encryption),
	 * slots first as in an ESP-IDF partition table, records after. */
	{"esp32-like",
	 {2 * 0x18000 + 0x8000, 4096, 16, 0xFF},
	 0x30000,
	 {0, 0x18000},
	 0x18000,
	 0x34000},
};

struct fl_image {
	uint8_t *data;
	uint32_t len;
	uint8_t sha256[FL_SHA256_BYTES];
	char version[FL_VERSION_MAX];
	uint64_t counter;
};

static inline void fl_image_make(struct fl_image *img, uint32_t len,
				 uint32_t seed, const char *version,
				 uint64_t counter)
{
	uint32_t x = seed * 2654435761u + 1;

	img->data = malloc(len);
	img->len = len;
	for (uint32_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		img->data[i] = (uint8_t)x;
	}
	fl_sha256(&fl_crypto_openssl, img->data, len, img->sha256);
	memset(img->version, 0, sizeof(img->version));
	strncpy(img->version, version, sizeof(img->version) - 1);
	img->counter = counter;
}

static inline void fl_image_free(struct fl_image *img)
{
	free(img->data);
	img->data = NULL;
}

struct fl_dev {
	const struct fl_layout *lay;
	uint8_t *mem;
	uint8_t trial_tries;
	uint8_t is_external; /* boot through envsim instead of the records */
};

/*
 * envsim: a model of an external boot loader (U-Boot with a redundant
 * environment, in spirit) whose state lives on the same simulated flash,
 * in two copies with a sequence number and a CRC, one erase unit each.
 * At power-on it counts boots of a pending trial and, past the limit,
 * returns to the committed slot and remembers the slot it abandoned. It
 * never reads the slot records: the slot manager must keep the two stores
 * consistent (boot.h), and the sweep checks that it does.
 */
struct envsim_state {
	uint32_t seq;
	uint8_t slot, committed, upgrade_available, bootcount, bootlimit;
	uint8_t reverted; /* 0xFF: none */
};

struct envsim {
	struct fl_area area; /* two erase units */
	struct envsim_state st;
	uint8_t booted, reset_reason;
};

static inline int envsim_load(struct envsim *e, struct envsim_state *out)
{
	uint8_t buf[16];
	int found = 0;

	for (uint32_t c = 0; c < 2; c++) {
		struct envsim_state st;
		int rc = fl_area_read(&e->area,
				      c * fl_area_erase_bytes(&e->area), buf,
				      sizeof(buf));

		if (rc != 0)
			return rc;
		if (fl_get_le32(buf + 12) != fl_crc32(0, buf, 12) ||
		    buf[0] != 0xE5)
			continue;
		st.seq = fl_get_le32(buf + 1);
		st.slot = buf[5];
		st.committed = buf[6];
		st.upgrade_available = buf[7];
		st.bootcount = buf[8];
		st.bootlimit = buf[9];
		st.reverted = buf[10];
		if (!found || st.seq > out->seq)
			*out = st;
		found = 1;
	}
	return found ? 0 : FL_ECORRUPT;
}

/* Stores st as the next generation: erase the older copy, write, sync. */
static inline int envsim_store(struct envsim *e, struct envsim_state *st)
{
	uint32_t unit = fl_area_erase_bytes(&e->area);
	uint8_t buf[16];
	struct envsim_state cur;
	uint32_t older = 0;
	int rc;

	memset(buf, 0, sizeof(buf));
	if (envsim_load(e, &cur) == 0) {
		uint8_t b0[16];

		st->seq = cur.seq + 1;
		rc = fl_area_read(&e->area, 0, b0, sizeof(b0));
		if (rc != 0)
			return rc;
		/* The copy holding cur is kept; the other one is written. */
		older = (fl_get_le32(b0 + 12) == fl_crc32(0, b0, 12) &&
			 b0[0] == 0xE5 && fl_get_le32(b0 + 1) == cur.seq)
				? 1
				: 0;
	} else {
		st->seq = 1;
	}
	buf[0] = 0xE5;
	fl_put_le32(buf + 1, st->seq);
	buf[5] = st->slot;
	buf[6] = st->committed;
	buf[7] = st->upgrade_available;
	buf[8] = st->bootcount;
	buf[9] = st->bootlimit;
	buf[10] = st->reverted;
	fl_put_le32(buf + 12, fl_crc32(0, buf, 12));
	rc = fl_area_erase(&e->area, older * unit, unit);
	if (rc == 0)
		rc = fl_area_write(&e->area, older * unit, buf, sizeof(buf));
	if (rc == 0)
		rc = fl_area_sync(&e->area);
	if (rc == 0)
		e->st = *st;
	return rc;
}

/* The boot loader at power-on: returns the slot it boots. */
static inline int envsim_power_on(struct envsim *e, uint8_t reset_reason)
{
	struct envsim_state st;
	int rc = envsim_load(e, &st);

	if (rc != 0)
		return rc;
	e->st = st;
	if (st.upgrade_available) {
		st.bootcount++;
		if (st.bootcount > st.bootlimit) { /* altbootcmd */
			st.reverted = st.slot;
			st.slot = st.committed;
			st.upgrade_available = 0;
			st.bootcount = 0;
		}
		rc = envsim_store(e, &st);
		if (rc != 0)
			return rc;
	}
	e->booted = e->st.slot;
	e->reset_reason = reset_reason;
	return 0;
}

static inline int envsim_status(struct fl_boot *b, struct fl_boot_status *st)
{
	struct envsim *e = b->priv;

	memset(st, 0, sizeof(*st));
	st->booted_slot = e->booted;
	st->is_trial = e->st.upgrade_available && e->st.slot == e->booted;
	st->is_reverted = e->st.reverted != 0xFF;
	st->reset_reason = e->reset_reason;
	return 0;
}

static inline int envsim_set_trial(struct fl_boot *b, unsigned slot,
				   unsigned tries)
{
	struct envsim *e = b->priv;
	struct envsim_state st = e->st;

	st.slot = (uint8_t)slot;
	st.upgrade_available = 1;
	st.bootcount = 0;
	st.bootlimit = (uint8_t)tries;
	st.reverted = 0xFF;
	return envsim_store(e, &st);
}

static inline int envsim_commit(struct fl_boot *b, unsigned slot)
{
	struct envsim *e = b->priv;
	struct envsim_state st = e->st;

	if (slot != e->booted)
		return FL_ESTATE;
	st.committed = (uint8_t)slot;
	st.upgrade_available = 0;
	st.bootcount = 0;
	return envsim_store(e, &st);
}

static inline int envsim_set_permanent(struct fl_boot *b, unsigned slot)
{
	struct envsim *e = b->priv;
	struct envsim_state st = e->st;

	st.slot = st.committed = (uint8_t)slot;
	st.upgrade_available = 0;
	st.bootcount = 0;
	return envsim_store(e, &st);
}

static const struct fl_boot_ops envsim_ops = {
	FL_BOOT_OPS_VERSION, "envsim",	    envsim_status,
	envsim_set_trial,    envsim_commit, envsim_set_permanent,
};

/* Everything that exists only while the device is powered. */
struct fl_dev_boot {
	struct fl_sim sim;
	struct fl_slots_config cfg;
	struct fl_slots scratch; /* boot loader's working memory */
	struct fl_boot_status handoff;
	struct fl_boot boot;
	struct fl_slots slots;
	struct envsim env;
};

static inline void fl_dev_config(struct fl_dev *d, struct fl_dev_boot *b)
{
	const struct fl_layout *l = d->lay;

	memset(&b->cfg, 0, sizeof(b->cfg));
	fl_area_init(&b->cfg.meta, &b->sim.flash, l->meta_off,
		     4 * l->geom.erase_bytes);
	fl_area_init(&b->cfg.slot[0], &b->sim.flash, l->slot_off[0],
		     l->slot_size);
	fl_area_init(&b->cfg.slot[1], &b->sim.flash, l->slot_off[1],
		     l->slot_size);
	b->cfg.crypto = &fl_crypto_openssl;
	b->cfg.boot = &b->boot;
	b->cfg.trial_tries = d->trial_tries;
}

/* A factory-fresh device with `img` in slot A, provisioned. */
static inline int fl_dev_factory(struct fl_dev *d, const struct fl_layout *l,
				 const struct fl_image *img, uint8_t tries)
{
	struct fl_dev_boot *b = calloc(1, sizeof(*b));
	struct fl_area a;
	int rc;

	d->lay = l;
	d->mem = malloc(l->geom.size_bytes);
	d->is_external = 0;
	d->trial_tries = tries;
	fl_sim_init(&b->sim, &l->geom, d->mem, NULL);
	fl_sim_wipe(&b->sim);
	fl_dev_config(d, b);
	a = b->cfg.slot[0];
	/* Factory images are a whole number of write units. */
	rc = fl_area_write(&a, 0, img->data, img->len);
	if (rc == 0)
		rc = fl_slots_init(&b->slots, &b->cfg);
	if (rc == 0)
		rc = fl_slots_provision(&b->slots, 0, img->len, img->sha256,
					img->version, img->counter);
	if (rc == 0 && l->env_off != 0) {
		struct envsim_state st = {0, 0, 0, 0, 0, 0, 0xFF};

		fl_area_init(&b->env.area, &b->sim.flash, l->env_off,
			     2 * l->geom.erase_bytes);
		rc = envsim_store(&b->env, &st);
	}
	free(b);
	return rc;
}

/* Power-on: boot loader decision, then the slot manager as the booted
 * image opens it. Returns what fl_bootsim_power_on or fl_slots_open
 * returned (FL_EPOWER if the fault plan cut power during boot). */
static inline int fl_dev_power_on(struct fl_dev *d, struct fl_dev_boot *b,
				  const struct fl_sim_faults *faults,
				  uint8_t reset_reason)
{
	int rc;

	memset(b, 0, sizeof(*b));
	fl_sim_init(&b->sim, &d->lay->geom, d->mem, faults);
	fl_dev_config(d, b);
	if (d->is_external) {
		fl_area_init(&b->env.area, &b->sim.flash, d->lay->env_off,
			     2 * d->lay->geom.erase_bytes);
		rc = envsim_power_on(&b->env, reset_reason);
		if (rc != 0)
			return rc;
		b->handoff.booted_slot = b->env.booted;
		b->boot.ops = &envsim_ops;
		b->boot.priv = &b->env;
		return fl_slots_open(&b->slots, &b->cfg);
	}
	rc = fl_bootsim_power_on(&b->scratch, &b->cfg, reset_reason,
				 &b->handoff);
	if (rc != 0)
		return rc;
	fl_boot_native_init(&b->boot, &b->handoff);
	return fl_slots_open(&b->slots, &b->cfg);
}

static inline void fl_target_of(struct fl_install_target *t,
				const struct fl_image *img, uint32_t attempt)
{
	memset(t, 0, sizeof(*t));
	t->attempt_id = attempt;
	t->image_len = img->len;
	memcpy(t->sha256, img->sha256, FL_SHA256_BYTES);
	t->counter = img->counter;
	memcpy(t->version, img->version, FL_VERSION_MAX);
}

/* Streams img into an install in irregular chunk sizes. */
static inline int fl_stream(struct fl_install *in, const struct fl_image *img,
			    uint32_t from)
{
	static const uint32_t chunks[] = {1, 7, 255, 256, 257, 1000, 4096, 3};
	uint32_t off = from;
	int rc = 0;

	for (unsigned i = 0; rc == 0 && off < img->len; i++) {
		uint32_t n = chunks[i % 8];

		if (n > img->len - off)
			n = img->len - off;
		rc = fl_install_write(in, img->data + off, n);
		off += n;
	}
	return rc;
}

#endif
