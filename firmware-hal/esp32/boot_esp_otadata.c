/*
 * boot_esp_otadata.c -- the boot control seam (boot.h) over ESP-IDF's app
 * rollback: otadata, esp_ota_* and the second-stage bootloader's rules.
 *
 * Method: with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, otadata holds two
 * entries (one per flash sector), each a sequence number, which selects
 * the slot ((seq - 1) % app count), and a state. At every boot the
 * bootloader first turns each PENDING_VERIFY entry into ABORTED (a trial
 * that was never confirmed), then boots the valid entry with the highest
 * sequence number, turning it from NEW into PENDING_VERIFY. So:
 *
 *   set_trial(s)     esp_ota_set_boot_partition(s): a new entry for s in
 *                    state NEW. One trial boot; any tries >= 1 gives one
 *                    (fewer than asked, never more). Already armed (the
 *                    boot partition is s and its state NEW): nothing done.
 *   status           running partition -> booted_slot; its state
 *                    PENDING_VERIFY -> is_trial; the last INVALID or
 *                    ABORTED entry being the other slot -> is_reverted
 *                    (that entry is overwritten by the next set_trial);
 *                    esp_reset_reason() -> reset_reason.
 *   commit(s)        s must be running; PENDING_VERIFY ->
 *                    esp_ota_mark_app_valid_cancel_rollback(); already
 *                    VALID (or no entry: flashed over serial) -> nothing.
 *   set_permanent(s) s running on trial: the same as commit. s the other
 *                    slot while the running one is on trial: nothing is
 *                    written; the bootloader abandons the unconfirmed
 *                    trial at the next reset and boots s's VALID entry
 *                    (the caller restarts; we do not reboot behind the
 *                    slot manager's back, which is what
 *                    esp_ota_mark_app_invalid_rollback_and_reboot() would
 *                    do). s running, not on trial, with a trial of the
 *                    other slot armed: point otadata back at s
 *                    (esp_ota_set_boot_partition leaves it NEW) and mark
 *                    that entry VALID. s the other slot, nothing on trial:
 *                    esp_ota_set_boot_partition(s); ESP-IDF makes this a
 *                    one-boot trial of s, which s confirms by commit.
 *
 * Known window: a power cut between the two writes of "point back at s"
 * leaves s's entry NEW, so s boots once on trial; if it is not committed
 * then, the armed trial of the other slot runs after all. The slot
 * manager closes the window by committing a slot whose record is
 * CONFIRMED whenever the boot loader reports it on trial.
 */
#include "fl/flash_esp32.h"

#include <stddef.h>
#include <string.h>

#include "esp_err.h"
#include "esp_ota_ops.h"
#include "esp_partition.h"
#include "esp_system.h"
#include "sdkconfig.h"

#include "fl/err.h"

#ifndef CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
#error "boot_esp_otadata.c needs CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y: \
without it ESP-IDF's bootloader has no trial boot and no revert"
#endif

static int same_partition(const esp_partition_t *a, const esp_partition_t *b)
{
	return a != NULL && b != NULL && a->address == b->address;
}

/* 0 or 1 for ota_0 or ota_1, -1 for anything else (factory, test, NULL). */
static int slot_of(const struct fl_boot_esp_otadata *b,
		   const esp_partition_t *p)
{
	for (int i = 0; i < (int)FL_SLOT_COUNT; i++)
		if (same_partition(b->slot[i], p))
			return i;
	return -1;
}

static int esp_result(struct fl_boot_esp_otadata *b, esp_err_t e)
{
	if (e == ESP_OK)
		return 0;
	b->last_err = e;
	return FL_EIO;
}

/* The running slot and whether it runs on trial. FL_EIO when the running
 * app is not ota_0 or ota_1, or otadata cannot be read. */
static int running(struct fl_boot_esp_otadata *b, int *slot, int *is_trial)
{
	const esp_partition_t *run = esp_ota_get_running_partition();
	esp_ota_img_states_t state = ESP_OTA_IMG_UNDEFINED;
	esp_err_t e;

	*slot = slot_of(b, run);
	*is_trial = 0;
	if (*slot < 0) {
		b->last_err = ESP_ERR_NOT_SUPPORTED;
		return FL_EIO;
	}
	e = esp_ota_get_state_partition(run, &state);
	if (e == ESP_ERR_NOT_FOUND)
		return 0; /* no otadata entry: booted by default, not a trial */
	if (e != ESP_OK)
		return esp_result(b, e);
	*is_trial = state == ESP_OTA_IMG_PENDING_VERIFY;
	return 0;
}

static uint8_t reset_reason(esp_reset_reason_t r)
{
	switch (r) {
	case ESP_RST_POWERON: return FL_RESET_POWER_ON;
	case ESP_RST_SW:
	case ESP_RST_DEEPSLEEP: return FL_RESET_SOFTWARE;
	case ESP_RST_PANIC: return FL_RESET_PANIC;
	case ESP_RST_INT_WDT:
	case ESP_RST_TASK_WDT:
	case ESP_RST_WDT: return FL_RESET_WATCHDOG;
	case ESP_RST_BROWNOUT: return FL_RESET_BROWNOUT;
	default: return FL_RESET_UNKNOWN; /* EXT pin, SDIO, USB, JTAG, ... */
	}
}

static int otadata_status(struct fl_boot *fb, struct fl_boot_status *st)
{
	struct fl_boot_esp_otadata *b = fb->priv;
	int slot, is_trial, rc;

	memset(st, 0, sizeof(*st));
	rc = running(b, &slot, &is_trial);
	if (rc != 0)
		return rc;
	st->booted_slot = (uint8_t)slot;
	st->is_trial = (uint8_t)is_trial;
	st->is_reverted =
		slot_of(b, esp_ota_get_last_invalid_partition()) == 1 - slot;
	st->reset_reason = reset_reason(esp_reset_reason());
	return 0;
}

/* Is slot the boot partition, with its entry in state NEW (armed)? */
static int is_armed(struct fl_boot_esp_otadata *b, unsigned slot)
{
	esp_ota_img_states_t state = ESP_OTA_IMG_UNDEFINED;

	return same_partition(esp_ota_get_boot_partition(), b->slot[slot]) &&
	       esp_ota_get_state_partition(b->slot[slot], &state) == ESP_OK &&
	       state == ESP_OTA_IMG_NEW;
}

static int set_boot(struct fl_boot_esp_otadata *b, unsigned slot)
{
	esp_err_t e = esp_ota_set_boot_partition(b->slot[slot]);

	/* An image under the eFuse secure version: ESP-IDF has erased it. */
	if (e == ESP_ERR_OTA_SMALL_SEC_VER) {
		b->last_err = e;
		return FL_EROLLBACK;
	}
	return esp_result(b, e);
}

static int otadata_set_trial(struct fl_boot *fb, unsigned slot, unsigned tries)
{
	struct fl_boot_esp_otadata *b = fb->priv;
	int run, is_trial, rc;

	if (slot >= FL_SLOT_COUNT || tries == 0)
		return FL_EINVAL;
	rc = running(b, &run, &is_trial);
	if (rc != 0)
		return rc;
	if ((unsigned)run == slot)
		return FL_EINVAL; /* a trial of the running image */
	if (is_armed(b, slot))
		return 0;
	return set_boot(b, slot);
}

static int otadata_commit(struct fl_boot *fb, unsigned slot)
{
	struct fl_boot_esp_otadata *b = fb->priv;
	int run, is_trial, rc;

	rc = running(b, &run, &is_trial);
	if (rc != 0)
		return rc;
	if (slot >= FL_SLOT_COUNT || (unsigned)run != slot)
		return FL_ESTATE;
	/* Only while on trial: the running entry is then the active one.
	 * Otherwise the active entry may be an armed trial of the other
	 * slot, which mark_app_valid would wrongly confirm. */
	if (!is_trial)
		return 0;
	return esp_result(b, esp_ota_mark_app_valid_cancel_rollback());
}

static int otadata_set_permanent(struct fl_boot *fb, unsigned slot)
{
	struct fl_boot_esp_otadata *b = fb->priv;
	int run, is_trial, rc;

	if (slot >= FL_SLOT_COUNT)
		return FL_EINVAL;
	rc = running(b, &run, &is_trial);
	if (rc != 0)
		return rc;
	if ((unsigned)run == slot) {
		if (is_trial)
			return esp_result(
				b, esp_ota_mark_app_valid_cancel_rollback());
		if (same_partition(esp_ota_get_boot_partition(), b->slot[slot]))
			return 0;
		rc = set_boot(b, slot);
		if (rc != 0)
			return rc;
		return esp_result(b, esp_ota_mark_app_valid_cancel_rollback());
	}
	if (is_trial)
		return 0; /* abandoned by the bootloader at the next reset */
	if (same_partition(esp_ota_get_boot_partition(), b->slot[slot]))
		return 0;
	return set_boot(b, slot);
}

static const struct fl_boot_ops otadata_ops = {
	.version = FL_BOOT_OPS_VERSION,
	.name = "esp-otadata",
	.status = otadata_status,
	.set_trial = otadata_set_trial,
	.commit = otadata_commit,
	.set_permanent = otadata_set_permanent,
};

int fl_boot_esp_otadata_init(struct fl_boot_esp_otadata *b)
{
	if (b == NULL)
		return FL_EINVAL;
	memset(b, 0, sizeof(*b));
	b->last_err = ESP_OK;
	b->slot[0] = esp_partition_find_first(
		ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_0, NULL);
	b->slot[1] = esp_partition_find_first(
		ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_1, NULL);
	if (b->slot[0] == NULL || b->slot[1] == NULL ||
	    esp_partition_find_first(ESP_PARTITION_TYPE_DATA,
				     ESP_PARTITION_SUBTYPE_DATA_OTA,
				     NULL) == NULL) {
		b->last_err = ESP_ERR_NOT_FOUND;
		return FL_ENOENT;
	}
	b->boot.ops = &otadata_ops;
	b->boot.priv = b;
	return 0;
}
