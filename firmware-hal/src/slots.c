/*
 * slots.c -- per-slot records in two copies, and the A/B transitions.
 *
 * Method: a slot's record lives in two copies, each in its own erase unit
 * of the metadata area (unit = 2 * slot + copy). A record is written to the
 * copy that does not hold the slot's newest valid record: erase that unit,
 * program the record (CRC last, in the same write), sync. A cut anywhere in
 * that sequence leaves the other copy, the previous record, in force: the
 * half-written copy fails its CRC (torn, partial erase or garbage alike).
 * Sequence numbers are global across both slots, so "the newest record"
 * and "the most recently confirmed slot" are plain comparisons.
 *
 * Every transition is one record write, so each is atomic by the rule
 * above; transitions that also touch an external boot loader order their
 * two writes as boot.h describes, and fl_slots_open() finishes whichever
 * was cut in half.
 */
#include "fl/slots.h"

#include <stddef.h>
#include <string.h>

#include "fl/bytes.h"
#include "fl/err.h"

#define REC_MAGIC  0x52534C46u /* "FLSR" little-endian */
#define REC_FORMAT 1u
#define NO_COPY	   0xFFu

/* Offsets of docs/formats.md, "Record layout, format 1". */
#define OFF_VERSION 76
#define OFF_PREV    (OFF_VERSION + FL_VERSION_MAX)
#define OFF_CRC	    (OFF_PREV + FL_VERSION_MAX)
_Static_assert(OFF_PREV == 108, "docs/formats.md: prev_version at 108");
_Static_assert(OFF_CRC == 140, "docs/formats.md: crc32 at 140");
_Static_assert(FL_SLOT_RECORD_BYTES == OFF_CRC + 4,
	       "docs/formats.md: 144 bytes");
_Static_assert(FL_SHA256_BYTES == 32 && 20 + FL_SHA256_BYTES == 52,
	       "docs/formats.md: sha256 at 20..51");
_Static_assert(FL_SLOT_RECORD_BYTES <= sizeof(((struct fl_slots *)0)->buf),
	       "record fits the scratch buffer");

/* The record's fields after its header (fl/bytes.h): the layout above. */
#define REC(wire, member, kind)                                                \
	{                                                                      \
		wire, offsetof(struct fl_slot_info, member),                   \
			sizeof(((struct fl_slot_info *)0)->member), kind       \
	}

static const struct fl_le_field rec_fields[] = {
	REC(6, state, FL_LE_INT),
	REC(7, tries_left, FL_LE_INT),
	REC(8, seq, FL_LE_INT),
	REC(16, image_len, FL_LE_INT),
	REC(20, sha256, FL_LE_BYTES),
	REC(52, counter, FL_LE_INT),
	REC(60, floor, FL_LE_INT),
	REC(68, attempt_id, FL_LE_INT),
	REC(72, tries_total, FL_LE_INT),
	REC(73, reason, FL_LE_INT),
	REC(74, reset_reason, FL_LE_INT),
	REC(75, flags, FL_LE_INT),
	REC(OFF_VERSION, version, FL_LE_BYTES),
	REC(OFF_PREV, prev_version, FL_LE_BYTES),
};

void fl_slot_record_encode(uint8_t out[FL_SLOT_RECORD_BYTES], unsigned slot,
			   const struct fl_slot_info *in)
{
	memset(out, 0, FL_SLOT_RECORD_BYTES);
	fl_put_le32(out + 0, REC_MAGIC);
	out[4] = REC_FORMAT;
	out[5] = (uint8_t)slot;
	fl_le_put(out, in, rec_fields,
		  sizeof(rec_fields) / sizeof(rec_fields[0]));
	out[OFF_PREV - 1] = '\0';
	out[OFF_CRC - 1] = '\0';
	fl_put_le32(out + OFF_CRC, fl_crc32(0, out, OFF_CRC));
}

int fl_slot_record_decode(const uint8_t in[FL_SLOT_RECORD_BYTES], unsigned slot,
			  struct fl_slot_info *out)
{
	if (fl_get_le32(in + 0) != REC_MAGIC || in[4] != REC_FORMAT ||
	    in[5] != slot ||
	    fl_get_le32(in + OFF_CRC) != fl_crc32(0, in, OFF_CRC))
		return FL_ECORRUPT;
	if (in[6] > FL_SLOT_BAD || in[6] == FL_SLOT_EMPTY ||
	    (in[75] & ~FL_SLOT_FLAG_ARMED) != 0 || in[OFF_PREV - 1] != '\0' ||
	    in[OFF_CRC - 1] != '\0')
		return FL_ECORRUPT;
	memset(out, 0, sizeof(*out));
	return fl_le_get(out, in, rec_fields,
			 sizeof(rec_fields) / sizeof(rec_fields[0]));
}

static uint32_t copy_off(const struct fl_slots *s, unsigned slot, unsigned copy)
{
	return (2u * slot + copy) * fl_area_erase_bytes(&s->cfg.meta);
}

int fl_slots_load(struct fl_slots *s)
{
	struct fl_slot_info rec;
	int rc;

	s->seq = 0;
	for (unsigned slot = 0; slot < FL_SLOT_COUNT; slot++) {
		memset(&s->info[slot], 0, sizeof(s->info[slot]));
		s->newest_copy[slot] = NO_COPY;
		for (unsigned copy = 0; copy < 2; copy++) {
			rc = fl_area_read(&s->cfg.meta, copy_off(s, slot, copy),
					  s->buf, FL_SLOT_RECORD_BYTES);
			if (rc != 0)
				return rc;
			if (fl_slot_record_decode(s->buf, slot, &rec) != 0)
				continue;
			if (s->newest_copy[slot] != NO_COPY &&
			    rec.seq <= s->info[slot].seq)
				continue;
			s->info[slot] = rec;
			s->newest_copy[slot] = (uint8_t)copy;
			if (rec.seq > s->seq)
				s->seq = rec.seq;
		}
	}
	return 0;
}

static int check_config(const struct fl_slots_config *cfg)
{
	const struct fl_area *m = &cfg->meta;
	uint32_t rec;

	if (m->fl == NULL || cfg->slot[0].fl == NULL ||
	    cfg->slot[1].fl == NULL || cfg->crypto == NULL ||
	    cfg->crypto->version != FL_CRYPTO_OPS_VERSION)
		return FL_EINVAL;
	rec = fl_align_up(FL_SLOT_RECORD_BYTES, fl_area_write_bytes(m));
	if (rec > fl_area_erase_bytes(m) || rec > 256 ||
	    m->size < 4 * fl_area_erase_bytes(m))
		return FL_EINVAL;
	/* Metadata and slots must not share an erase unit of one device. */
	for (unsigned i = 0; i < FL_SLOT_COUNT; i++) {
		const struct fl_area *a = &cfg->slot[i];
		const struct fl_area *b = i == 0 ? &cfg->slot[1] : m;

		if (a->fl == m->fl && a->off < m->off + m->size &&
		    m->off < a->off + a->size)
			return FL_EINVAL;
		if (i == 0 && a->fl == b->fl && a->off < b->off + b->size &&
		    b->off < a->off + a->size)
			return FL_EINVAL;
	}
	return 0;
}

int fl_slots_init(struct fl_slots *s, const struct fl_slots_config *cfg)
{
	int rc = check_config(cfg);

	if (rc != 0)
		return rc;
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	if (s->cfg.trial_tries == 0)
		s->cfg.trial_tries = 1;
	return fl_slots_load(s);
}

uint64_t fl_slots_floor(const struct fl_slots *s)
{
	uint64_t floor = 0;

	for (unsigned i = 0; i < FL_SLOT_COUNT; i++)
		if (s->info[i].state != FL_SLOT_EMPTY &&
		    s->info[i].floor > floor)
			floor = s->info[i].floor;
	return floor;
}

int fl_slots_write_record(struct fl_slots *s, unsigned slot,
			  struct fl_slot_info *info)
{
	const struct fl_area *m = &s->cfg.meta;
	uint32_t len =
		fl_align_up(FL_SLOT_RECORD_BYTES, fl_area_write_bytes(m));
	unsigned copy = s->newest_copy[slot] == 0 ? 1u : 0u;
	uint64_t floor = fl_slots_floor(s);
	int rc;

	if (info->floor < floor)
		info->floor = floor; /* every record carries the floor */
	if (info->state != FL_SLOT_TRIAL)
		info->flags = 0;
	info->seq = s->seq + 1;
	rc = fl_area_erase(m, copy_off(s, slot, copy), fl_area_erase_bytes(m));
	if (rc != 0)
		return rc;
	s->seq = info->seq; /* never reuse a number, even after a failure */
	memset(s->buf, m->fl->geom.erased_value, len);
	fl_slot_record_encode(s->buf, slot, info);
	rc = fl_area_write(m, copy_off(s, slot, copy), s->buf, len);
	if (rc == 0)
		rc = fl_area_sync(m);
	if (rc != 0)
		return rc;
	s->info[slot] = *info;
	s->newest_copy[slot] = (uint8_t)copy;
	return 0;
}

int fl_slots_verify_image(struct fl_slots *s, unsigned slot, uint32_t len,
			  const uint8_t sha256[FL_SHA256_BYTES])
{
	const struct fl_crypto_ops *c = s->cfg.crypto;
	uint8_t digest[FL_SHA256_BYTES];
	uint8_t *buf;
	uint32_t cap;
	uint32_t off = 0;
	int rc;

	if (slot >= FL_SLOT_COUNT || len > s->cfg.slot[slot].size)
		return FL_EINVAL;
	fl_slots__io_buf(s, &buf, &cap);
	rc = c->sha256_init(&s->hash);
	while (rc == 0 && off < len) {
		uint32_t n = len - off;

		if (n > cap)
			n = cap;
		rc = fl_area_read(&s->cfg.slot[slot], off, buf, n);
		if (rc == 0)
			rc = c->sha256_update(&s->hash, buf, n);
		off += n;
	}
	if (rc == 0)
		rc = c->sha256_final(&s->hash, digest);
	if (rc != 0)
		return rc;
	return fl_memeq_ct(digest, sha256, FL_SHA256_BYTES) ? FL_EVERIFY : 0;
}

int fl_slots_verify(struct fl_slots *s, unsigned slot)
{
	const struct fl_slot_info *in;

	if (slot >= FL_SLOT_COUNT)
		return FL_EINVAL;
	in = &s->info[slot];
	if (in->state == FL_SLOT_EMPTY || in->state == FL_SLOT_WRITING ||
	    in->image_len > s->cfg.slot[slot].size)
		return FL_ESTATE;
	return fl_slots_verify_image(s, slot, in->image_len, in->sha256);
}

static int is_external(const struct fl_slots *s)
{
	return s->cfg.boot != NULL && s->cfg.boot->ops->set_trial != NULL;
}

/* Hands a TRIAL record's trial to an external boot loader, then records
 * that it did (FL_SLOT_FLAG_ARMED), so that a revert the boot loader
 * reports later is known to be about this trial and not an older one. */
static int arm_trial(struct fl_slots *s, unsigned slot)
{
	struct fl_slot_info in = s->info[slot];
	int rc;

	if (!is_external(s) || (in.flags & FL_SLOT_FLAG_ARMED))
		return 0;
	rc = s->cfg.boot->ops->set_trial(s->cfg.boot, slot, in.tries_total);
	if (rc != 0)
		return rc;
	in.flags |= FL_SLOT_FLAG_ARMED;
	return fl_slots_write_record(s, slot, &in);
}

/* Settles a transition a power cut split between the records and an
 * external boot loader (order of writes in boot.h). */
static int reconcile(struct fl_slots *s)
{
	const struct fl_boot_ops *ops = s->cfg.boot->ops;
	unsigned b = s->boot.booted_slot;
	unsigned o = 1u - b;
	struct fl_slot_info in;
	int rc = 0;

	if (s->info[b].state == FL_SLOT_TRIAL && !s->boot.is_trial) {
		/* commit() reached the boot loader; the record did not. */
		in = s->info[b];
		in.state = FL_SLOT_CONFIRMED;
		if (in.counter > in.floor)
			in.floor = in.counter;
		rc = fl_slots_write_record(s, b, &in);
	} else if (s->info[b].state == FL_SLOT_BAD) {
		/* reject() wrote the record; tell the boot loader again. */
		rc = ops->set_permanent(s->cfg.boot, o);
	} else if (s->info[b].state == FL_SLOT_CONFIRMED && s->boot.is_trial) {
		/* The boot loader holds a trial for an image the records say
		 * is committed (ESP-IDF arms one on every boot partition
		 * change, and a cut can split commit in two): commit it
		 * there too, or it is abandoned at the next reset. */
		rc = ops->commit(s->cfg.boot, b);
	}
	if (rc == 0 && s->info[b].state == FL_SLOT_TRIAL && s->boot.is_trial &&
	    !(s->info[b].flags & FL_SLOT_FLAG_ARMED)) {
		/* set_trial() reached the boot loader; the record did not. */
		in = s->info[b];
		in.flags |= FL_SLOT_FLAG_ARMED;
		rc = fl_slots_write_record(s, b, &in);
	}
	/* A revert counts only for an armed trial: an unarmed TRIAL record
	 * is an activation cut short, which fl_slots_activate() resumes,
	 * while the boot loader's revert flag still refers to an older
	 * trial. */
	if (rc == 0 && s->info[o].state == FL_SLOT_TRIAL &&
	    (s->info[o].flags & FL_SLOT_FLAG_ARMED) && s->boot.is_reverted) {
		in = s->info[o];
		in.state = FL_SLOT_BAD;
		in.reason = FL_REASON_REVERTED;
		in.reset_reason = s->boot.reset_reason;
		rc = fl_slots_write_record(s, o, &in);
	}
	return rc;
}

void fl_slots__io_buf(struct fl_slots *s, uint8_t **buf, uint32_t *cap)
{
	if (s->cfg.io_buf != NULL && s->cfg.io_buf_bytes >= sizeof(s->buf)) {
		*buf = s->cfg.io_buf;
		*cap = s->cfg.io_buf_bytes;
	} else {
		*buf = s->buf;
		*cap = sizeof(s->buf);
	}
}

int fl_slots_open(struct fl_slots *s, const struct fl_slots_config *cfg)
{
	int rc;

	if (s == NULL || cfg == NULL || cfg->boot == NULL ||
	    cfg->boot->ops == NULL ||
	    cfg->boot->ops->version != FL_BOOT_OPS_VERSION)
		return FL_EINVAL;
	rc = fl_slots_init(s, cfg);
	if (rc != 0)
		return rc;
	rc = cfg->boot->ops->status(cfg->boot, &s->boot);
	if (rc != 0)
		return rc;
	if (s->boot.booted_slot >= FL_SLOT_COUNT)
		return FL_ESTATE;
	if (is_external(s))
		return reconcile(s);
	return 0;
}

int fl_slots_info(const struct fl_slots *s, unsigned slot,
		  struct fl_slot_info *out)
{
	if (slot >= FL_SLOT_COUNT || out == NULL)
		return FL_EINVAL;
	*out = s->info[slot];
	return 0;
}

unsigned fl_slots_booted(const struct fl_slots *s)
{
	return s->boot.booted_slot;
}

static uint8_t outcome_of(const struct fl_slot_info *in)
{
	switch (in->state) {
	case FL_SLOT_WRITING: return FL_OUTCOME_WRITING;
	case FL_SLOT_STAGED: return FL_OUTCOME_STAGED;
	case FL_SLOT_TRIAL: return FL_OUTCOME_TRIAL;
	case FL_SLOT_CONFIRMED: return FL_OUTCOME_COMMITTED;
	case FL_SLOT_BAD:
		if (in->reason == FL_REASON_VERIFY ||
		    in->reason == FL_REASON_FLASH ||
		    in->reason == FL_REASON_CANCELLED)
			return FL_OUTCOME_FAILED;
		return FL_OUTCOME_REVERTED;
	default: return FL_OUTCOME_NONE;
	}
}

int fl_slots_attempt(const struct fl_slots *s, struct fl_attempt *out)
{
	const struct fl_slot_info *best = NULL;
	unsigned slot = 0;

	for (unsigned i = 0; i < FL_SLOT_COUNT; i++) {
		const struct fl_slot_info *in = &s->info[i];

		if (in->state == FL_SLOT_EMPTY || in->attempt_id == 0)
			continue;
		if (best == NULL || in->seq > best->seq) {
			best = in;
			slot = i;
		}
	}
	if (best == NULL)
		return FL_ENOENT;
	memset(out, 0, sizeof(*out));
	out->id = best->attempt_id;
	out->slot = (uint8_t)slot;
	out->outcome = outcome_of(best);
	out->reason = best->reason;
	out->reset_reason = best->reset_reason;
	memcpy(out->version, best->version, FL_VERSION_MAX);
	memcpy(out->prev_version, best->prev_version, FL_VERSION_MAX);
	return 0;
}

int fl_slots_provision(struct fl_slots *s, unsigned slot, uint32_t len,
		       const uint8_t sha256[FL_SHA256_BYTES],
		       const char *version, uint64_t counter)
{
	struct fl_slot_info in;
	int rc;

	if (slot >= FL_SLOT_COUNT || version == NULL ||
	    len > s->cfg.slot[slot].size)
		return FL_EINVAL;
	for (unsigned i = 0; i < FL_SLOT_COUNT; i++)
		if (s->info[i].state == FL_SLOT_CONFIRMED ||
		    s->info[i].state == FL_SLOT_TRIAL)
			return FL_ESTATE;
	memset(&in, 0, sizeof(in));
	if (fl_strlcpy(in.version, version, sizeof(in.version)) != 0)
		return FL_EINVAL;
	rc = fl_slots_verify_image(s, slot, len, sha256);
	if (rc != 0)
		return rc;
	in.image_len = len;
	memcpy(in.sha256, sha256, FL_SHA256_BYTES);
	in.state = FL_SLOT_CONFIRMED;
	in.counter = counter;
	in.floor = counter;
	return fl_slots_write_record(s, slot, &in);
}

static int trial_pending(const struct fl_slots *s)
{
	for (unsigned i = 0; i < FL_SLOT_COUNT; i++)
		if (s->info[i].state == FL_SLOT_TRIAL)
			return 1;
	return 0;
}

int fl_slots_activate(struct fl_slots *s, unsigned slot)
{
	struct fl_slot_info in;
	int rc;

	if (slot >= FL_SLOT_COUNT)
		return FL_EINVAL;
	in = s->info[slot];
	if (slot == s->boot.booted_slot ||
	    (in.state != FL_SLOT_STAGED && in.state != FL_SLOT_TRIAL) ||
	    s->info[1u - slot].state == FL_SLOT_TRIAL)
		return FL_ESTATE;
	rc = fl_slots_verify(s, slot);
	if (rc != 0)
		return rc;
	if (in.state == FL_SLOT_STAGED) {
		in.state = FL_SLOT_TRIAL;
		in.flags = 0;
		in.tries_total = s->cfg.trial_tries;
		in.tries_left = s->cfg.trial_tries;
		rc = fl_slots_write_record(s, slot, &in);
		if (rc != 0)
			return rc;
	}
	return arm_trial(s, slot);
}

int fl_slots_confirm(struct fl_slots *s)
{
	unsigned b = s->boot.booted_slot;
	struct fl_slot_info in = s->info[b];
	int rc;

	if (in.state == FL_SLOT_CONFIRMED)
		return 0;
	if (in.state != FL_SLOT_TRIAL)
		return FL_ESTATE;
	if (is_external(s)) {
		rc = s->cfg.boot->ops->commit(s->cfg.boot, b);
		if (rc != 0)
			return rc;
	}
	in.state = FL_SLOT_CONFIRMED;
	in.reason = FL_REASON_NONE;
	if (in.counter > in.floor)
		in.floor = in.counter;
	return fl_slots_write_record(s, b, &in);
}

int fl_slots_reject(struct fl_slots *s, uint8_t reason)
{
	unsigned b = s->boot.booted_slot;
	struct fl_slot_info in = s->info[b];
	int rc = 0;

	if (in.state == FL_SLOT_TRIAL) {
		in.state = FL_SLOT_BAD;
		in.reason = reason;
		rc = fl_slots_write_record(s, b, &in);
	} else if (in.state != FL_SLOT_BAD) {
		return FL_ESTATE;
	}
	if (rc == 0 && is_external(s))
		rc = s->cfg.boot->ops->set_permanent(s->cfg.boot, 1u - b);
	return rc;
}

int fl_slots_switch_to_previous(struct fl_slots *s, uint32_t attempt_id)
{
	return fl_slots_rollback(s, attempt_id, 0);
}

int fl_slots_rollback(struct fl_slots *s, uint32_t attempt_id, uint64_t counter)
{
	unsigned b = s->boot.booted_slot;
	unsigned p = 1u - b;
	struct fl_slot_info in = s->info[p];
	int rc;

	if (trial_pending(s) || s->info[b].state != FL_SLOT_CONFIRMED)
		return FL_ETRIAL;
	if (in.state != FL_SLOT_CONFIRMED)
		return FL_ENOENT;
	rc = fl_slots_verify(s, p);
	if (rc != 0)
		return rc;
	in.state = FL_SLOT_TRIAL;
	in.flags = 0;
	in.tries_total = s->cfg.trial_tries;
	in.tries_left = s->cfg.trial_tries;
	in.attempt_id = attempt_id;
	if (counter > in.counter)
		in.counter = counter; /* the floor follows at confirm */
	in.reason = FL_REASON_NONE;
	in.reset_reason = FL_RESET_UNKNOWN;
	memcpy(in.prev_version, s->info[b].version, FL_VERSION_MAX);
	rc = fl_slots_write_record(s, p, &in);
	return rc != 0 ? rc : arm_trial(s, p);
}
