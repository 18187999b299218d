/*
 * bytes.h -- little-endian load/store and small helpers for on-media and
 * on-wire formats. Every pinned format in docs/formats.md is little-endian
 * and is read and written only through these, never by casting structs.
 */
#ifndef FL_BYTES_H
#define FL_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline void fl_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void fl_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void fl_put_le64(uint8_t *p, uint64_t v)
{
	fl_put_le32(p, (uint32_t)v);
	fl_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t fl_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t fl_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t fl_get_le64(const uint8_t *p)
{
	return (uint64_t)fl_get_le32(p) | ((uint64_t)fl_get_le32(p + 4) << 32);
}

/*
 * A pinned layout as a table: each field's offset in the bytes (wire), its
 * offset in the struct (mem, offsetof()), its size and kind. fl_le_put()
 * writes the fields little-endian, fl_le_get() reads them back: one loop
 * each instead of a call per field, which costs a microcontroller a
 * kilobyte per format. FL_LE_INT: an unsigned integer of 1, 2, 4 or 8
 * bytes (8 also a double's bits); FL_LE_BOOL: a bool as one byte, read
 * as != 0; FL_LE_BYTES: size bytes as they are; FL_LE_STR: a string in a
 * field of size bytes, NUL-padded (put truncates to size - 1 and expects
 * the bytes cleared; get refuses one without a NUL inside the field).
 */
enum fl_le_kind { FL_LE_INT, FL_LE_BOOL, FL_LE_BYTES, FL_LE_STR };

struct fl_le_field {
	uint16_t wire;
	uint16_t mem;
	uint8_t size;
	uint8_t kind; /* enum fl_le_kind */
};

void fl_le_put(uint8_t *out, const void *m, const struct fl_le_field *f,
	       size_t n);
/* Returns 0, or FL_ECORRUPT for a string without its NUL (the fields
 * before it are read). */
int fl_le_get(void *m, const uint8_t *in, const struct fl_le_field *f,
	      size_t n);

/* CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320, init and xorout
 * 0xFFFFFFFF): fl_crc32(0, "123456789", 9) == 0xCBF43926. Pass the previous
 * result as crc to continue over several buffers. */
uint32_t fl_crc32(uint32_t crc, const void *buf, size_t len);

/* Copies a NUL-terminated string into dst of size dst_size, always
 * terminating it. Returns 0, or FL_ETOOBIG if src did not fit (dst then holds
 * a truncated copy). */
int fl_strlcpy(char *dst, const char *src, size_t dst_size);

/* Constant-time comparison of n bytes; 0 when equal. */
int fl_memeq_ct(const void *a, const void *b, size_t n);

#endif
