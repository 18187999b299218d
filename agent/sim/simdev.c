/*
 * simdev.c -- a simulated device's flash layout, factory provisioning and
 * power-on from the flash contents alone (see fl/simdev.h).
 */
#include "fl/simdev.h"

#include <string.h>

#include "fl/bootsim.h"
#include "fl/err.h"
#include "fl/flash_shared.h"

#define META_UNITS  4u
#define STORE_UNITS 2u

int fl_simdev_layout_make(struct fl_simdev_layout *l, uint32_t erase_bytes,
			  uint32_t write_bytes, uint32_t slot_bytes,
			  uint8_t erased_value)
{
	uint64_t leaf, slot, total;

	if (l == NULL || erase_bytes < 4096 || erase_bytes > (1u << 20) ||
	    (erase_bytes & (erase_bytes - 1)) != 0 || write_bytes == 0 ||
	    write_bytes > 256 || (write_bytes & (write_bytes - 1)) != 0 ||
	    slot_bytes == 0)
		return FL_EINVAL;
	leaf = (uint64_t)erase_bytes * FL_SHFLASH_LEAF_UNITS;
	slot = ((uint64_t)slot_bytes + erase_bytes - 1) / erase_bytes *
	       erase_bytes;
	/* Slot A starts on a leaf; slot B on the leaf after slot A's end. */
	total = leaf + (slot + leaf - 1) / leaf * leaf + slot;
	if (total > UINT32_MAX - erase_bytes)
		return FL_EINVAL;
	memset(l, 0, sizeof(*l));
	l->geom.erase_bytes = erase_bytes;
	l->geom.write_bytes = write_bytes;
	l->geom.erased_value = erased_value;
	l->geom.size_bytes = (uint32_t)total;
	l->meta_off = 0;
	l->store_off = META_UNITS * erase_bytes;
	l->slot_off[0] = (uint32_t)leaf;
	l->slot_off[1] = (uint32_t)(leaf + (slot + leaf - 1) / leaf * leaf);
	l->slot_bytes = (uint32_t)slot;
	return 0;
}

static int config(struct fl_slots_config *cfg, struct fl_flash *fl,
		  const struct fl_simdev_layout *l,
		  const struct fl_crypto_ops *crypto, struct fl_boot *boot,
		  uint8_t trial_tries)
{
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = fl_area_init(&cfg->meta, fl, l->meta_off,
			  META_UNITS * l->geom.erase_bytes);
	if (rc == 0)
		rc = fl_area_init(&cfg->slot[0], fl, l->slot_off[0],
				  l->slot_bytes);
	if (rc == 0)
		rc = fl_area_init(&cfg->slot[1], fl, l->slot_off[1],
				  l->slot_bytes);
	cfg->boot = boot;
	cfg->crypto = crypto;
	cfg->trial_tries = trial_tries;
	return rc;
}

int fl_simdev_provision(struct fl_flash *fl, const struct fl_simdev_layout *l,
			const struct fl_crypto_ops *crypto,
			const uint8_t *image, uint32_t len, const char *version,
			uint64_t counter, struct fl_slots *scratch)
{
	struct fl_slots_config cfg;
	struct fl_boot_status handoff;
	struct fl_boot boot;
	uint32_t unit = l->geom.write_bytes, head;
	uint8_t tail[256];
	int rc;

	if (image == NULL || len == 0 || version == NULL)
		return FL_EINVAL;
	if (len > l->slot_bytes)
		return FL_ENOSPC;
	memset(&handoff, 0, sizeof(handoff));
	fl_boot_native_init(&boot, &handoff);
	rc = config(&cfg, fl, l, crypto, &boot, 1);
	if (rc != 0)
		return rc;
	/* Whole write units, then the tail padded with erased bytes. */
	head = len / unit * unit;
	rc = fl_area_write(&cfg.slot[0], 0, image, head);
	if (rc == 0 && head < len) {
		memset(tail, l->geom.erased_value, unit);
		memcpy(tail, image + head, len - head);
		rc = fl_area_write(&cfg.slot[0], head, tail, unit);
	}
	if (rc == 0)
		rc = fl_area_sync(&cfg.slot[0]);
	if (rc == 0)
		rc = fl_slots_init(scratch, &cfg);
	if (rc == 0) {
		uint8_t sha[FL_SHA256_BYTES];

		rc = fl_sha256(crypto, image, len, sha);
		if (rc == 0)
			rc = fl_slots_provision(scratch, 0, len, sha, version,
						counter);
	}
	return rc;
}

int fl_simdev_power_on(struct fl_simdev_run *r, struct fl_flash *fl,
		       const struct fl_simdev_layout *l,
		       const struct fl_crypto_ops *crypto, uint8_t trial_tries,
		       uint8_t reset_reason, struct fl_slots *scratch)
{
	int rc;

	memset(r, 0, sizeof(*r));
	rc = config(&r->cfg, fl, l, crypto, &r->boot, trial_tries);
	if (rc == 0)
		rc = fl_bootsim_power_on(scratch, &r->cfg, reset_reason,
					 &r->handoff);
	if (rc != 0)
		return rc;
	fl_boot_native_init(&r->boot, &r->handoff);
	rc = fl_slots_open(&r->slots, &r->cfg);
	if (rc == 0)
		rc = fl_area_init(&r->store_area, fl, l->store_off,
				  STORE_UNITS * l->geom.erase_bytes);
	if (rc == 0)
		rc = fl_agent_flash_store_init(&r->store, &r->store_area);
	return rc;
}

const char *fl_simdev_running(const struct fl_simdev_run *r)
{
	return r->slots.info[fl_slots_booted(&r->slots)].version;
}
