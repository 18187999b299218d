/*
 * store_flash.c -- the store port over a flash area: one blob, two copies,
 * saved so that a power cut at any flash operation leaves either the old
 * blob or the new one in force.
 *
 * Method: as the slot records (slots.c). Copy c lives at the start of
 * erase unit c of the area. A copy is a frame:
 *
 *   off size field
 *     0   4 magic "FLST" (0x54534C46 as LE32)
 *     4   1 format (1)
 *     5   1 zero
 *     6   2 blob length n (<= FL_AGENT_BLOB_MAX)
 *     8   8 sequence number (> 0, one above the highest seen or used)
 *    16   n blob
 *  16+n   4 CRC-32 of bytes 0 .. 16+n-1
 *
 * padded with the erased value to the write unit. save() erases the unit
 * of the copy that is not the newest valid one, programs the frame through
 * a 256-byte staging buffer (whole write units; the CRC is in the last
 * write), and syncs; a cut anywhere leaves that copy failing its CRC and
 * the other in force. load() takes the valid copy with the higher sequence
 * number (copy 0 on a tie), then reads it again and checks its CRC once
 * more over the bytes it returns. A sequence number is never reused, even
 * after a failed save. Format: docs/formats.md, "Agent flash store".
 */
#include <string.h>

#include "agent_priv.h"
#include "fl/bytes.h"
#include "fl/err.h"

#define FRAME_MAGIC  0x54534C46u /* "FLST" */
#define FRAME_FORMAT 1u
#define FRAME_HEAD   16u
#define FRAME_EXTRA  (FRAME_HEAD + 4u)
#define NO_COPY	     0xFFu

_Static_assert(FL_AGENT_STORE_IO_BYTES >= FRAME_HEAD,
	       "the header fits the staging buffer");

static uint32_t unit_of(const struct fl_agent_flash_store *st)
{
	return fl_area_erase_bytes(&st->area);
}

int fl_agent_flash_store_init(struct fl_agent_flash_store *st,
			      const struct fl_area *area)
{
	uint32_t unit, frame;

	if (st == NULL || area == NULL || area->fl == NULL)
		return FL_EINVAL;
	unit = fl_area_erase_bytes(area);
	frame = fl_align_up(FRAME_EXTRA + FL_AGENT_BLOB_MAX,
			    fl_area_write_bytes(area));
	if (area->size < 2 * unit || frame > unit ||
	    fl_area_write_bytes(area) > FL_AGENT_STORE_IO_BYTES)
		return FL_EINVAL;
	memset(st, 0, sizeof(*st));
	st->area = *area;
	st->newest = NO_COPY;
	return 0;
}

/* Checks copy c; on success sets *seq and *len. 0, FL_ECORRUPT (not a
 * valid copy), or a flash error. */
static int check_copy(struct fl_agent_flash_store *st, unsigned c,
		      uint64_t *seq, uint16_t *len)
{
	uint32_t base = c * unit_of(st);
	uint32_t crc, done = 0, total;
	uint16_t n;
	int rc;

	rc = fl_area_read(&st->area, base, st->buf, FRAME_HEAD);
	if (rc != 0)
		return rc;
	n = fl_get_le16(st->buf + 6);
	if (fl_get_le32(st->buf) != FRAME_MAGIC || st->buf[4] != FRAME_FORMAT ||
	    n > FL_AGENT_BLOB_MAX || fl_get_le64(st->buf + 8) == 0)
		return FL_ECORRUPT;
	*seq = fl_get_le64(st->buf + 8);
	*len = n;
	total = FRAME_HEAD + n;
	crc = 0;
	while (done < total) {
		uint32_t k = total - done;

		if (k > sizeof(st->buf))
			k = sizeof(st->buf);
		rc = fl_area_read(&st->area, base + done, st->buf, k);
		if (rc != 0)
			return rc;
		crc = fl_crc32(crc, st->buf, k);
		done += k;
	}
	rc = fl_area_read(&st->area, base + total, st->buf, 4);
	if (rc != 0)
		return rc;
	return fl_get_le32(st->buf) == crc ? 0 : FL_ECORRUPT;
}

/* Finds the newest valid copy. 0 (st->newest may be NO_COPY) or a flash
 * error. */
static int scan(struct fl_agent_flash_store *st, uint16_t *len)
{
	uint64_t best = 0;

	st->newest = NO_COPY;
	for (unsigned c = 0; c < 2; c++) {
		uint64_t seq;
		uint16_t n;
		int rc = check_copy(st, c, &seq, &n);

		if (rc == FL_ECORRUPT)
			continue;
		if (rc != 0)
			return rc;
		if (st->newest == NO_COPY || seq > best) {
			best = seq;
			st->newest = (uint8_t)c;
			*len = n;
		}
	}
	if (best > st->seq)
		st->seq = best;
	return 0;
}

/* Errors: FL_ENOENT (no valid copy), FL_ETOOBIG (cap too small),
 * FL_ECORRUPT (the copy changed while read), or a flash error. */
static int flash_load(void *ctx, uint8_t *buf, size_t cap, size_t *len)
{
	struct fl_agent_flash_store *st = ctx;
	uint32_t base;
	uint16_t n = 0;
	uint8_t tail[4];
	int rc;

	rc = scan(st, &n);
	if (rc != 0)
		return rc;
	if (st->newest == NO_COPY)
		return FL_ENOENT;
	if (n > cap)
		return FL_ETOOBIG;
	base = st->newest * unit_of(st);
	rc = fl_area_read(&st->area, base, st->buf, FRAME_HEAD);
	if (rc == 0)
		rc = fl_area_read(&st->area, base + FRAME_HEAD, buf, n);
	if (rc == 0)
		rc = fl_area_read(&st->area, base + FRAME_HEAD + n, tail, 4);
	if (rc != 0)
		return rc;
	if (fl_get_le32(tail) !=
	    fl_crc32(fl_crc32(0, st->buf, FRAME_HEAD), buf, n))
		return FL_ECORRUPT;
	*len = n;
	return 0;
}

/* Appends bytes to the staging buffer, programming it whenever full. */
static int stage(struct fl_agent_flash_store *st, uint32_t base, uint32_t *at,
		 uint32_t *fill, const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t k = sizeof(st->buf) - *fill;
		int rc;

		if (k > n)
			k = n;
		memcpy(st->buf + *fill, p, k);
		*fill += (uint32_t)k;
		p += k;
		n -= k;
		if (*fill == sizeof(st->buf)) {
			rc = fl_area_write(&st->area, base + *at, st->buf,
					   sizeof(st->buf));
			if (rc != 0)
				return rc;
			*at += sizeof(st->buf);
			*fill = 0;
		}
	}
	return 0;
}

/* Errors: FL_ETOOBIG (len over FL_AGENT_BLOB_MAX), or a flash error. */
static int flash_save(void *ctx, const uint8_t *buf, size_t len)
{
	struct fl_agent_flash_store *st = ctx;
	uint8_t head[FRAME_HEAD], tail[4];
	uint32_t base, at = 0, fill = 0, crc;
	uint16_t n = 0;
	unsigned copy;
	int rc;

	if (len > FL_AGENT_BLOB_MAX)
		return FL_ETOOBIG;
	if (st->newest == NO_COPY) {
		rc = scan(st, &n); /* never saved or loaded on this boot */
		if (rc != 0)
			return rc;
	}
	copy = st->newest == 0 ? 1u : 0u;
	base = copy * unit_of(st);
	memset(head, 0, sizeof(head));
	fl_put_le32(head, FRAME_MAGIC);
	head[4] = FRAME_FORMAT;
	fl_put_le16(head + 6, (uint16_t)len);
	fl_put_le64(head + 8, st->seq + 1);
	crc = fl_crc32(fl_crc32(0, head, sizeof(head)), buf, len);
	fl_put_le32(tail, crc);

	rc = fl_area_erase(&st->area, base, unit_of(st));
	if (rc != 0)
		return rc;
	st->seq++; /* never reuse a number, even after a failure */
	rc = stage(st, base, &at, &fill, head, sizeof(head));
	if (rc == 0)
		rc = stage(st, base, &at, &fill, buf, len);
	if (rc == 0)
		rc = stage(st, base, &at, &fill, tail, sizeof(tail));
	if (rc == 0 && fill > 0) {
		uint32_t padded =
			fl_align_up(fill, fl_area_write_bytes(&st->area));

		memset(st->buf + fill, st->area.fl->geom.erased_value,
		       padded - fill);
		rc = fl_area_write(&st->area, base + at, st->buf, padded);
	}
	if (rc == 0)
		rc = fl_area_sync(&st->area);
	if (rc != 0)
		return rc;
	st->newest = (uint8_t)copy;
	return 0;
}

const struct fl_agent_store_ops fl_agent_flash_store_ops = {
	.version = FL_AGENT_PORT_VERSION,
	.name = "flash",
	.load = flash_load,
	.save = flash_save,
};
