/*
 * installer.c -- stream an image into the inactive slot and verify it.
 *
 * Method: begin writes the target's record as WRITING (which makes it
 * unbootable) before any erase or write of the slot. Data is gathered in a
 * one-buffer staging area and programmed in whole buffers (a chunk holding
 * several whole buffers is programmed straight from the caller in one
 * write), so every flash write is write-unit aligned whatever the chunk
 * sizes; the erase of each
 * unit happens just before the first write into it. The digest is computed
 * twice: while streaming (over exactly the bytes programmed) and at finish
 * from a full read-back of the slot (catches what the flash did). Only a
 * read-back that matches moves the record to STAGED. On a device whose
 * reads come from the operating system's copy of the writes
 * (FL_FLASH_READS_CACHED: a file or block device), a read-back would only
 * hash that copy again, so there the streamed digest and a successful sync
 * make the slot STAGED. Either way nothing boots unverified: activation
 * verifies the slot again, and the boot loader before it runs it.
 */
#include "fl/installer.h"

#include <string.h>

#include "fl/bytes.h"
#include "fl/err.h"

static const struct fl_area *area(const struct fl_install *in)
{
	return &in->slots->cfg.slot[in->slot];
}

static int fail(struct fl_install *in, int rc)
{
	in->state = FL_INSTALL_FAILED;
	return rc;
}

/* 1 if v is a non-empty string terminated within FL_VERSION_MAX bytes. */
static int is_version(const char *v)
{
	for (unsigned i = 0; i < FL_VERSION_MAX; i++)
		if (v[i] == '\0')
			return i > 0;
	return 0;
}

static int check_target(const struct fl_slots *s,
			const struct fl_install_target *t, unsigned slot)
{
	if (t->attempt_id == 0 || !is_version(t->version))
		return FL_EINVAL;
	if (t->image_len == 0 || t->image_len > s->cfg.slot[slot].size)
		return FL_ENOSPC;
	return 0;
}

static void start(struct fl_install *in, struct fl_slots *s, unsigned slot,
		  const struct fl_install_target *t)
{
	memset(in, 0, sizeof(*in));
	in->slots = s;
	in->slot = (uint8_t)slot;
	in->image_len = t->image_len;
	memcpy(in->sha256, t->sha256, FL_SHA256_BYTES);
	in->state = FL_INSTALL_WRITING;
}

int fl_install_begin(struct fl_install *in, struct fl_slots *s,
		     const struct fl_install_target *t)
{
	unsigned slot = 1u - fl_slots_booted(s);
	struct fl_slot_info rec;
	int rc;

	if (in == NULL || s == NULL || t == NULL)
		return FL_EINVAL;
	rc = check_target(s, t, slot);
	if (rc != 0)
		return rc;
	for (unsigned i = 0; i < FL_SLOT_COUNT; i++)
		if (s->info[i].state == FL_SLOT_TRIAL)
			return FL_ETRIAL;
	if (s->info[fl_slots_booted(s)].state != FL_SLOT_CONFIRMED)
		return FL_ETRIAL;
	if (t->counter < fl_slots_floor(s))
		return FL_EROLLBACK;

	/* Invalidate first: from here the slot is not bootable. */
	memset(&rec, 0, sizeof(rec));
	rec.state = FL_SLOT_WRITING;
	rec.image_len = t->image_len;
	memcpy(rec.sha256, t->sha256, FL_SHA256_BYTES);
	rec.counter = t->counter;
	rec.attempt_id = t->attempt_id;
	memcpy(rec.version, t->version, FL_VERSION_MAX);
	memcpy(rec.prev_version, s->info[fl_slots_booted(s)].version,
	       FL_VERSION_MAX);
	rc = fl_slots_write_record(s, slot, &rec);
	if (rc != 0)
		return rc;
	start(in, s, slot, t);
	rc = s->cfg.crypto->sha256_init(&in->hash);
	return rc != 0 ? fail(in, rc) : 0;
}

int fl_install_resume(struct fl_install *in, struct fl_slots *s,
		      const struct fl_install_target *t, uint32_t offset)
{
	unsigned slot = 1u - fl_slots_booted(s);
	const struct fl_slot_info *rec = &s->info[slot];
	uint32_t unit, cap;
	uint8_t *buf;
	int rc;

	if (in == NULL || s == NULL || t == NULL)
		return FL_EINVAL;
	rc = check_target(s, t, slot);
	if (rc != 0)
		return rc;
	if (rec->state != FL_SLOT_WRITING || rec->attempt_id != t->attempt_id ||
	    rec->image_len != t->image_len ||
	    memcmp(rec->sha256, t->sha256, FL_SHA256_BYTES) != 0 ||
	    offset > t->image_len)
		return FL_ESTATE;
	start(in, s, slot, t);
	unit = fl_area_erase_bytes(area(in));
	offset = offset / unit * unit;
	fl_slots__io_buf(s, &buf, &cap);
	rc = s->cfg.crypto->sha256_init(&in->hash);
	while (rc == 0 && in->written < offset) {
		uint32_t n = offset - in->written;

		if (n > cap)
			n = cap;
		rc = fl_area_read(area(in), in->written, buf, n);
		if (rc == 0)
			rc = s->cfg.crypto->sha256_update(&in->hash, buf, n);
		in->written += n;
	}
	in->flushed = offset;
	in->erased = offset;
	return rc != 0 ? fail(in, rc) : 0;
}

/* Programs src[0, len) at in->flushed, erasing units as needed. len is a
 * multiple of the write unit. */
static int program_from(struct fl_install *in, const uint8_t *src, uint32_t len)
{
	const struct fl_area *a = area(in);
	uint32_t unit = fl_area_erase_bytes(a);
	int rc;

	while (in->erased < in->flushed + len) {
		rc = fl_area_erase(a, in->erased, unit);
		if (rc != 0)
			return rc;
		in->erased += unit;
	}
	rc = fl_area_write(a, in->flushed, src, len);
	if (rc != 0)
		return rc;
	in->flushed += len;
	return 0;
}

/* Programs the buffer's first len bytes and empties it. */
static int program(struct fl_install *in, uint32_t len)
{
	int rc = program_from(in, in->buf, len);

	if (rc == 0)
		in->buf_fill = 0;
	return rc;
}

int fl_install_write(struct fl_install *in, const void *data, size_t len)
{
	const uint8_t *p = data;
	int rc;

	if (in == NULL || in->state != FL_INSTALL_WRITING)
		return FL_ESTATE;
	if (len > in->image_len - in->written)
		return FL_ETOOBIG;
	rc = in->slots->cfg.crypto->sha256_update(&in->hash, p, len);
	if (rc != 0)
		return fail(in, rc);
	while (len > 0) {
		uint32_t n = FL_INSTALL_BUF_BYTES - in->buf_fill;

		/* Whole buffers' worth straight from the caller's chunk, in
		 * one write: a chunk of 16 KiB is one flash write, not 64
		 * (every write is a system call on a Linux backend). */
		if (in->buf_fill == 0 && len >= FL_INSTALL_BUF_BYTES) {
			n = (uint32_t)(len / FL_INSTALL_BUF_BYTES *
				       FL_INSTALL_BUF_BYTES);
			rc = program_from(in, p, n);
			if (rc != 0)
				return fail(in, rc);
			in->written += n;
			p += n;
			len -= n;
			continue;
		}
		if (n > len)
			n = (uint32_t)len;
		memcpy(in->buf + in->buf_fill, p, n);
		in->buf_fill += n;
		in->written += n;
		p += n;
		len -= n;
		if (in->buf_fill == FL_INSTALL_BUF_BYTES) {
			rc = program(in, FL_INSTALL_BUF_BYTES);
			if (rc != 0)
				return fail(in, rc);
		}
	}
	return 0;
}

/* Programs the partial buffer, padded with the erased value to a whole
 * write unit. Only at the end of the image, or at a checkpoint whose
 * offset resume rounds down to an erase unit, so the padding is never
 * overwritten without an erase. */
static int flush_tail(struct fl_install *in)
{
	const struct fl_area *a = area(in);
	uint32_t len;

	if (in->buf_fill == 0)
		return 0;
	len = fl_align_up(in->buf_fill, fl_area_write_bytes(a));
	memset(in->buf + in->buf_fill, a->fl->geom.erased_value,
	       len - in->buf_fill);
	return program(in, len);
}

int fl_install_checkpoint(struct fl_install *in, uint32_t *offset)
{
	int rc;

	if (in == NULL || in->state != FL_INSTALL_WRITING || offset == NULL)
		return FL_ESTATE;
	/* The durable prefix is what was programmed in whole buffers; the
	 * partial buffer stays in RAM and is simply sent again on resume. */
	rc = fl_area_sync(area(in));
	if (rc != 0)
		return fail(in, rc);
	*offset = in->flushed;
	return 0;
}

int fl_install_finish(struct fl_install *in)
{
	struct fl_slots *s;
	struct fl_slot_info rec;
	uint8_t digest[FL_SHA256_BYTES];
	int rc, wrc;

	if (in == NULL || in->state != FL_INSTALL_WRITING ||
	    in->written != in->image_len)
		return FL_ESTATE;
	s = in->slots;
	rc = flush_tail(in);
	if (rc == 0)
		rc = fl_area_sync(area(in));
	if (rc == 0)
		rc = s->cfg.crypto->sha256_final(&in->hash, digest);
	if (rc != 0)
		return fail(in, rc);
	/* The stream must match, and then what the flash holds must too. */
	rc = fl_memeq_ct(digest, in->sha256, FL_SHA256_BYTES) ? FL_EVERIFY : 0;
	if (rc == 0 && !(area(in)->fl->ops->flags & FL_FLASH_READS_CACHED))
		rc = fl_slots_verify_image(s, in->slot, in->image_len,
					   in->sha256);
	if (rc != 0 && rc != FL_EVERIFY)
		return fail(in, rc);
	rec = s->info[in->slot];
	rec.state = rc == 0 ? FL_SLOT_STAGED : FL_SLOT_BAD;
	rec.reason = rc == 0 ? FL_REASON_NONE : FL_REASON_VERIFY;
	wrc = fl_slots_write_record(s, in->slot, &rec);
	if (wrc != 0)
		return fail(in, wrc);
	if (rc != 0)
		return fail(in, rc);
	in->state = FL_INSTALL_STAGED;
	return 0;
}

int fl_install_activate(struct fl_install *in)
{
	if (in == NULL || in->state != FL_INSTALL_STAGED)
		return FL_ESTATE;
	return fl_slots_activate(in->slots, in->slot);
}

int fl_install_cancel(struct fl_install *in)
{
	struct fl_slot_info rec;

	if (in == NULL || in->slots == NULL ||
	    in->slots->info[in->slot].state != FL_SLOT_WRITING)
		return FL_ESTATE;
	rec = in->slots->info[in->slot];
	rec.state = FL_SLOT_BAD;
	rec.reason = FL_REASON_CANCELLED;
	in->state = FL_INSTALL_FAILED;
	return fl_slots_write_record(in->slots, in->slot, &rec);
}
