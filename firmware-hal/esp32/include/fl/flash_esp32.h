/*
 * flash_esp32.h -- ESP-IDF (v5) backends: a flash partition as a flash
 * device ("esp-part"), and ESP-IDF's otadata with app rollback as the boot
 * control backend ("esp-otadata").
 *
 * Built only inside an ESP-IDF project, as the component in this folder;
 * not built or tested in this repository's CI (see README.md). Nothing here
 * allocates: the caller owns every struct, which must outlive its use.
 */
#ifndef FL_FLASH_ESP32_H
#define FL_FLASH_ESP32_H

#include <stdint.h>

#include "esp_err.h"
#include "esp_partition.h"

#include "fl/boot.h"
#include "fl/flash.h"

/* A partition as a flash device. Geometry: erase unit SPI_FLASH_SEC_SIZE
 * (4096), write unit 16 when the partition is encrypted (flash encryption:
 * esp_partition_write() then encrypts in 16-byte blocks) and 1 otherwise,
 * erased value 0xFF. Sync does nothing: SPI flash operations complete
 * before they return. */
struct fl_flash_esp_part {
	struct fl_flash flash; /* pass &f.flash to fl_area_init() */
	const esp_partition_t *part;
	esp_err_t last_err; /* of the last failed operation; ESP_OK if none */
};

/* Describes part (from esp_partition_find_first() or esp_partition_get();
 * valid for the life of the application) as a flash device in *f. Returns
 * 0 or FL_EINVAL (NULL, or a partition not made of whole sectors). */
int fl_flash_esp_part_init(struct fl_flash_esp_part *f,
			   const esp_partition_t *part);

/* Finds the first partition of type, subtype and label (NULL: any label)
 * and describes it in *f. Returns 0, FL_ENOENT, FL_EINVAL. */
int fl_flash_esp_part_find(struct fl_flash_esp_part *f,
			   esp_partition_type_t type,
			   esp_partition_subtype_t subtype, const char *label);

/*
 * The boot control backend over ESP-IDF's otadata, which needs
 * CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y (the file does not compile
 * without it). Slot 0 is the ota_0 app partition, slot 1 is ota_1.
 *
 *   status        running partition, its otadata state (PENDING_VERIFY:
 *                 on trial), the last invalid or aborted partition (the
 *                 other slot: reverted), esp_reset_reason().
 *   set_trial     esp_ota_set_boot_partition(): ESP-IDF's bootloader
 *                 grants exactly one trial boot, so any tries >= 1 gives
 *                 one boot (fewer tries, never more: the safe direction).
 *   commit        esp_ota_mark_app_valid_cancel_rollback().
 *   set_permanent see boot_esp_otadata.c: a running trial is abandoned at
 *                 the next reset (no write; the caller restarts); other
 *                 cases go through esp_ota_set_boot_partition().
 */
struct fl_boot_esp_otadata {
	struct fl_boot boot; /* pass &b.boot in struct fl_slots_config */
	const esp_partition_t *slot[FL_SLOT_COUNT];
	esp_err_t last_err; /* of the last failed ESP-IDF call */
};

/* Finds ota_0, ota_1 and otadata and fills *b. Returns 0, FL_EINVAL
 * (NULL), FL_ENOENT (a partition is missing from the partition table). */
int fl_boot_esp_otadata_init(struct fl_boot_esp_otadata *b);

#endif
