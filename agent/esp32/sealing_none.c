/*
 * sealing_none.c -- the ESP32 component without encrypted images, built
 * when CONFIG_FL_AGENT_WRAP_KEY_FILE is empty (with agent/core/noseal/
 * sealed_none.c): no wrap key, no chunk buffer; an offer of an encrypted
 * image is answered unsupported_package (encryption), and plans for these
 * devices say artifact.encrypt: false.
 */
#include "esp32_priv.h"

int fl_esp32_sealing_configure(struct fl_agent_config *c, const char *device_id,
			       const struct fl_crypto_ops *crypto)
{
	(void)c;
	(void)device_id;
	(void)crypto;
	return 0;
}
