/*
 * flash.h -- the flash interface: a device with a geometry, and areas on it.
 *
 * A backend fills a struct fl_flash_ops table and a geometry; everything
 * above it goes through struct fl_area, whose functions check range and
 * alignment once, so that backends never see a bad request:
 *
 *   read   any offset and length inside the area;
 *   write  offset and length multiples of the write unit; NOR rule: the
 *          bytes written must be erased (the simulator enforces this);
 *   erase  offset and length multiples of the erase unit;
 *   sync   make every completed write and erase durable.
 *
 * Its flags state what the layers above may rely on (FL_FLASH_READS_CACHED).
 *
 * Backends: simulator (flash_sim.h, RAM or a mapped file, with faults),
 * Linux regular file or block device and Linux MTD (flash_linux.h), ESP32
 * partitions (firmware-hal/esp32/, not built here).
 */
#ifndef FL_FLASH_H
#define FL_FLASH_H

#include <stddef.h>
#include <stdint.h>

struct fl_flash_geom {
	uint32_t size_bytes;  /* whole device */
	uint32_t erase_bytes; /* erase unit, a power of two */
	uint32_t write_bytes; /* write unit, a power of two, <= erase unit */
	uint8_t erased_value; /* value of every byte after erase: 0xFF on NOR */
};

struct fl_flash;

struct fl_flash_ops {
	unsigned version; /* FL_FLASH_OPS_VERSION */
	const char *name; /* "sim", "file", "mtd", "esp-part" */
	int (*read)(struct fl_flash *fl, uint32_t off, void *dst, size_t len);
	int (*write)(struct fl_flash *fl, uint32_t off, const void *src,
		     size_t len);
	int (*erase)(struct fl_flash *fl, uint32_t off, size_t len);
	int (*sync)(struct fl_flash *fl); /* NULL: nothing to flush */
	uint32_t flags;			  /* FL_FLASH_* below, 0 for none */
};

#define FL_FLASH_OPS_VERSION 1u

/* Reads return the operating system's copy of what was written (a file or
 * block device through the page cache), not the medium: reading back what
 * was just written cannot show that the medium did not store it. The
 * installer skips its read-back on such a device (fl/installer.h). */
#define FL_FLASH_READS_CACHED 0x1u

struct fl_flash {
	const struct fl_flash_ops *ops;
	struct fl_flash_geom geom;
	void *priv; /* backend state */
};

/* A window of a device: [off, off + size), both erase-aligned. */
struct fl_area {
	struct fl_flash *fl;
	uint32_t off;
	uint32_t size;
};

/* Checks a geometry: non-zero power-of-two units, write <= erase, size a
 * multiple of the erase unit. Returns 0 or FL_EINVAL. */
int fl_flash_geom_check(const struct fl_flash_geom *g);

/* Describes [off, off + size) of fl as an area. Returns 0, FL_EINVAL (bad
 * geometry or NULL), FL_EALIGN (not erase-aligned), FL_ERANGE. */
int fl_area_init(struct fl_area *a, struct fl_flash *fl, uint32_t off,
		 uint32_t size);

/* Each returns 0, FL_ERANGE, FL_EALIGN (write, erase), or the backend's
 * error: FL_EIO, FL_EPOWER (simulator), FL_ENOTERASED (simulator). */
int fl_area_read(const struct fl_area *a, uint32_t off, void *dst, size_t len);
int fl_area_write(const struct fl_area *a, uint32_t off, const void *src,
		  size_t len);
int fl_area_erase(const struct fl_area *a, uint32_t off, size_t len);
int fl_area_sync(const struct fl_area *a);

static inline uint32_t fl_area_erase_bytes(const struct fl_area *a)
{
	return a->fl->geom.erase_bytes;
}

static inline uint32_t fl_area_write_bytes(const struct fl_area *a)
{
	return a->fl->geom.write_bytes;
}

/* Rounds n up to a multiple of the power of two unit. */
static inline uint32_t fl_align_up(uint32_t n, uint32_t unit)
{
	return (n + unit - 1) & ~(unit - 1);
}

#endif
