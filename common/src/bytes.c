/*
 * bytes.c -- CRC-32 and small bounded string helpers (portable).
 *
 * The CRC is the bitwise form with a 16-entry nibble table: 64 bytes of
 * constants instead of 1 KiB, which matters on a microcontroller, and fast
 * enough for records of a few hundred bytes.
 */
#include "fl/bytes.h"

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
