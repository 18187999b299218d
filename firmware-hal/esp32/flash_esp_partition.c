/*
 * flash_esp_partition.c -- an ESP-IDF flash partition as a flash device:
 * struct fl_flash_ops over esp_partition_read(), esp_partition_write() and
 * esp_partition_erase_range().
 *
 * Range and alignment are checked above the backend (flash.c), so every
 * call here is inside the partition and aligned to the geometry given at
 * init. The write unit follows the partition's `encrypted` flag, which
 * ESP-IDF sets when flash encryption is enabled and the partition is
 * encrypted (every app partition, and data partitions marked so), and
 * which esp_partition_write() itself consults to choose encrypted 16-byte
 * writes. (esp_flash_encryption_enabled() would answer for the chip, not
 * the partition, and is deprecated in recent ESP-IDF.) Note that erased
 * bytes of an encrypted partition read back through esp_partition_read()
 * as decrypted garbage, not 0xFF: keep partitions whose erased state is
 * read (the slot records) unencrypted.
 */
#include "fl/flash_esp32.h"

#include <stddef.h>
#include <string.h>

#include "esp_partition.h"
#include "spi_flash_mmap.h" /* SPI_FLASH_SEC_SIZE */

#include "fl/err.h"

static int part_result(struct fl_flash_esp_part *f, esp_err_t e)
{
	if (e == ESP_OK)
		return 0;
	f->last_err = e;
	return FL_EIO;
}

static int part_read(struct fl_flash *fl, uint32_t off, void *dst, size_t len)
{
	struct fl_flash_esp_part *f = fl->priv;

	return part_result(f, esp_partition_read(f->part, off, dst, len));
}

static int part_write(struct fl_flash *fl, uint32_t off, const void *src,
		      size_t len)
{
	struct fl_flash_esp_part *f = fl->priv;

	return part_result(f, esp_partition_write(f->part, off, src, len));
}

static int part_erase(struct fl_flash *fl, uint32_t off, size_t len)
{
	struct fl_flash_esp_part *f = fl->priv;

	return part_result(f, esp_partition_erase_range(f->part, off, len));
}

static const struct fl_flash_ops part_ops = {
	.version = FL_FLASH_OPS_VERSION,
	.name = "esp-part",
	.read = part_read,
	.write = part_write,
	.erase = part_erase,
	.sync = NULL,
};

int fl_flash_esp_part_init(struct fl_flash_esp_part *f,
			   const esp_partition_t *part)
{
	if (f == NULL || part == NULL)
		return FL_EINVAL;
	memset(f, 0, sizeof(*f));
	if (part->size == 0 || part->size % SPI_FLASH_SEC_SIZE != 0 ||
	    part->address % SPI_FLASH_SEC_SIZE != 0)
		return FL_EINVAL;
	f->part = part;
	f->last_err = ESP_OK;
	f->flash.ops = &part_ops;
	f->flash.geom.size_bytes = part->size;
	f->flash.geom.erase_bytes = SPI_FLASH_SEC_SIZE;
	f->flash.geom.write_bytes = part->encrypted ? 16u : 1u;
	f->flash.geom.erased_value = 0xFF;
	f->flash.priv = f;
	return fl_flash_geom_check(&f->flash.geom);
}

int fl_flash_esp_part_find(struct fl_flash_esp_part *f,
			   esp_partition_type_t type,
			   esp_partition_subtype_t subtype, const char *label)
{
	const esp_partition_t *part;

	if (f == NULL)
		return FL_EINVAL;
	part = esp_partition_find_first(type, subtype, label);
	if (part == NULL)
		return FL_ENOENT;
	return fl_flash_esp_part_init(f, part);
}
