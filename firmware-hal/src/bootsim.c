/*
 * bootsim.c -- the boot decision at power-on, from flash contents alone.
 *
 * Method: spend a trial's try before booting it, not after, so that a
 * brown-out during the trial boot counts against the trial (and ends it
 * after the configured number), never against the confirmed slot, which
 * this code never writes except to mark it BAD when its image is corrupt.
 * Each write is one record write, atomic by the two-copy rule in slots.c;
 * a cut during one simply runs the same decision again at the next
 * power-on.
 */
#include "fl/bootsim.h"

#include <string.h>

#include "fl/err.h"

static int mark_bad(struct fl_slots *s, unsigned slot, uint8_t reason,
		    uint8_t reset_reason)
{
	struct fl_slot_info in = s->info[slot];

	in.state = FL_SLOT_BAD;
	in.reason = reason;
	in.reset_reason = reset_reason;
	return fl_slots_write_record(s, slot, &in);
}

static int find(const struct fl_slots *s, uint8_t state)
{
	int best = -1;

	for (unsigned i = 0; i < FL_SLOT_COUNT; i++)
		if (s->info[i].state == state &&
		    (best < 0 || s->info[i].seq > s->info[best].seq))
			best = (int)i;
	return best;
}

int fl_bootsim_power_on(struct fl_slots *s, const struct fl_slots_config *cfg,
			uint8_t reset_reason, struct fl_boot_status *handoff)
{
	uint8_t is_reverted = 0;
	int rc = fl_slots_init(s, cfg);
	int t, c;

	if (rc != 0)
		return rc;
	t = find(s, FL_SLOT_TRIAL);
	if (t >= 0) {
		struct fl_slot_info in = s->info[t];

		rc = in.tries_left > 0 ? fl_slots_verify(s, (unsigned)t) : 0;
		if (rc != 0 && rc != FL_EVERIFY)
			return rc;
		if (in.tries_left > 0 && rc == 0) {
			in.tries_left--;
			rc = fl_slots_write_record(s, (unsigned)t, &in);
			if (rc != 0)
				return rc;
			memset(handoff, 0, sizeof(*handoff));
			handoff->booted_slot = (uint8_t)t;
			handoff->is_trial = 1;
			handoff->reset_reason = reset_reason;
			return 0;
		}
		rc = mark_bad(s, (unsigned)t,
			      in.tries_left > 0 ? FL_REASON_BOOT_VERIFY
						: FL_REASON_NOT_CONFIRMED,
			      reset_reason);
		if (rc != 0)
			return rc;
		is_reverted = 1;
	}
	while ((c = find(s, FL_SLOT_CONFIRMED)) >= 0) {
		rc = fl_slots_verify(s, (unsigned)c);
		if (rc == 0) {
			memset(handoff, 0, sizeof(*handoff));
			handoff->booted_slot = (uint8_t)c;
			handoff->is_reverted = is_reverted;
			handoff->reset_reason = reset_reason;
			return 0;
		}
		if (rc != FL_EVERIFY)
			return rc;
		rc = mark_bad(s, (unsigned)c, FL_REASON_BOOT_VERIFY,
			      reset_reason);
		if (rc != 0)
			return rc;
	}
	return FL_EBRICK;
}

static int native_status(struct fl_boot *b, struct fl_boot_status *st)
{
	*st = *(const struct fl_boot_status *)b->priv;
	return 0;
}

static const struct fl_boot_ops native_ops = {
	.version = FL_BOOT_OPS_VERSION,
	.name = "native",
	.status = native_status,
};

void fl_boot_native_init(struct fl_boot *b, struct fl_boot_status *handoff)
{
	b->ops = &native_ops;
	b->priv = handoff;
}
