/*
 * bytes.c -- CRC-32, small bounded string helpers and the table-driven
 * little-endian layouts of bytes.h (portable).
 *
 * The CRC is the bitwise form with a 16-entry nibble table: 64 bytes of
 * constants instead of 1 KiB, which matters on a microcontroller, and fast
 * enough for records of a few hundred bytes.
 */
#include "fl/bytes.h"

#include <string.h>

#include "fl/err.h"

static const uint32_t crc_nibble[16] = {
	0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu,
	0x76dc4190u, 0x6b6b51f4u, 0x4db26158u, 0x5005713cu,
	0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
	0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu,
};

uint32_t fl_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
	}
	return ~crc;
}

int fl_strlcpy(char *dst, const char *src, size_t dst_size)
{
	size_t i;

	if (dst_size == 0)
		return FL_ETOOBIG;
	for (i = 0; i + 1 < dst_size && src[i] != '\0'; i++)
		dst[i] = src[i];
	dst[i] = '\0';
	return src[i] == '\0' ? 0 : FL_ETOOBIG;
}

int fl_memeq_ct(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a;
	const volatile uint8_t *y = b;
	uint8_t diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= (uint8_t)(x[i] ^ y[i]);
	return diff != 0;
}

/* The integer of size n at p (for n 8: its 8 bytes, a u64 or a double). */
static uint64_t int_at(const void *p, unsigned n)
{
	uint64_t v;

	switch (n) {
	case 1: return *(const uint8_t *)p;
	case 2: return *(const uint16_t *)p;
	case 4: return *(const uint32_t *)p;
	default: memcpy(&v, p, sizeof(v)); return v;
	}
}

static void int_to(void *p, unsigned n, uint64_t v)
{
	switch (n) {
	case 1: *(uint8_t *)p = (uint8_t)v; break;
	case 2: *(uint16_t *)p = (uint16_t)v; break;
	case 4: *(uint32_t *)p = (uint32_t)v; break;
	default: memcpy(p, &v, sizeof(v)); break;
	}
}

void fl_le_put(uint8_t *out, const void *m, const struct fl_le_field *f,
	       size_t n)
{
	for (; n > 0; n--, f++) {
		const uint8_t *src = (const uint8_t *)m + f->mem;
		uint8_t *dst = out + f->wire;

		if (f->kind == FL_LE_INT || f->kind == FL_LE_BOOL) {
			uint64_t v = int_at(src, f->size);

			for (unsigned i = 0; i < f->size; i++, v >>= 8)
				dst[i] = (uint8_t)v;
		} else if (f->kind == FL_LE_BYTES) {
			memcpy(dst, src, f->size);
		} else {
			size_t len = strlen((const char *)src);

			memcpy(dst, src, len < f->size ? len : f->size - 1u);
		}
	}
}

int fl_le_get(void *m, const uint8_t *in, const struct fl_le_field *f, size_t n)
{
	for (; n > 0; n--, f++) {
		uint8_t *dst = (uint8_t *)m + f->mem;
		const uint8_t *src = in + f->wire;
		uint64_t v = 0;
		unsigned i = 0;

		if (f->kind == FL_LE_INT || f->kind == FL_LE_BOOL) {
			for (i = f->size; i > 0; i--)
				v = v << 8 | src[i - 1];
			int_to(dst, f->size,
			       f->kind == FL_LE_BOOL ? v != 0 : v);
			continue;
		}
		/* A string needs its NUL inside the field. */
		while (f->kind == FL_LE_STR && i < f->size && src[i] != 0)
			i++;
		if (i == f->size)
			return FL_ECORRUPT;
		memcpy(dst, src, f->size);
	}
	return 0;
}
