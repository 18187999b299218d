/*
 * sealing.c -- encrypted images on the ESP32 (docs/formats.md, "Encrypted
 * image"), built when CONFIG_FL_AGENT_WRAP_KEY_FILE names the device's
 * wrap key (with agent/core/sealed.c, unseal.c and common/src/seal.c):
 * the key, embedded at build time like the manifest keys (keys.c;
 * CMakeLists.txt copies it to fl_wrap_key.pem), the record buffer of one
 * chunk of up to CONFIG_FL_AGENT_CHUNK_MAX bytes, and no decompression:
 * ESP-IDF has no zstd, so a container compressed with it is refused
 * (unsupported_package, reason compression) and the plans for these
 * devices say artifact.compress: false (plans/README.md); a chunk larger
 * than CONFIG_FL_AGENT_CHUNK_MAX is refused (out_of_ram, chunk_size).
 * Each chunk is authenticated in the record buffer and written to the
 * slot from there: without compression no second buffer is needed.
 *
 * Method: the PEM key (PKCS#8 "PRIVATE KEY", as `fleetd pki device`
 * writes it, or SEC 1 "EC PRIVATE KEY") is parsed by Mbed TLS and written
 * back as SEC 1 DER (mbedtls_pk_write_key_der), which for a P-256 key with
 * its parameters and public point has one fixed layout: the 32-byte
 * scalar at offset 7, the 65-byte point at the end. So the curve is
 * checked by comparing the fixed bytes, as keys.c does for public keys,
 * without touching Mbed TLS's private struct members. The PEM copy and the
 * DER are wiped after use; the key itself stays in RAM for the agent's
 * life (the agent's configuration borrows it).
 */
#include <string.h>

#include "esp_log.h"
#include "esp_random.h"
#include "mbedtls/pk.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/version.h"
#include "sdkconfig.h"

#include "esp32_priv.h"
#include "fl/err.h"
#include "fl/seal.h"

#define CHUNK_MAX CONFIG_FL_AGENT_CHUNK_MAX
_Static_assert(CHUNK_MAX >= FL_SEAL_CHUNK_MIN &&
		       CHUNK_MAX <= FL_SEAL_CHUNK_MAX &&
		       CHUNK_MAX % FL_SEAL_CHUNK_MIN == 0,
	       "CONFIG_FL_AGENT_CHUNK_MAX: a multiple of 4096 from 4096 to "
	       "1048576");

#define PEM_MAX 600 /* a P-256 private key in PEM is about 250 bytes */
#define DER_LEN 121 /* SEC 1 ECPrivateKey of P-256, parameters and point */

extern const char wrap_start[] asm("_binary_fl_wrap_key_pem_start");
extern const char wrap_end[] asm("_binary_fl_wrap_key_pem_end");

static const char *TAG = FL_ESP32_TAG;

/* SEC 1 DER of a P-256 key: what precedes the scalar, what lies between
 * the scalar and the point (parameters: prime256v1; the bit string). */
static const uint8_t DER_HEAD[7] = {0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20};
static const uint8_t DER_MID[17] = {
	0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x03, 0x01, 0x07, 0xa1, 0x44, 0x03, 0x42, 0x00,
};

static struct fl_wrap_key key;
static uint8_t rec[FL_SEAL_BUF_BYTES(CHUNK_MAX)];
static struct fl_agent_seal_bufs bufs = {rec, sizeof(rec), NULL, 0};

static int rng(void *ctx, unsigned char *out, size_t len)
{
	(void)ctx;
	esp_fill_random(out, len);
	return 0;
}

/* The embedded PEM into key (named device_id). */
static int load(const char *device_id, const struct fl_crypto_ops *crypto)
{
	static char pem[PEM_MAX];
	static uint8_t der[160];
	const char *end = wrap_end;
	size_t len = (size_t)(wrap_end - wrap_start);
	mbedtls_pk_context pk;
	int n, rc = FL_EINVAL;

	/* TEXT embedding adds a NUL after the file: do not count it. */
	if (end > wrap_start && end[-1] == '\0')
		len--;
	if (len == 0 || len >= sizeof(pem) ||
	    strlen(device_id) >= sizeof(key.name))
		return FL_EINVAL;
	memcpy(pem, wrap_start, len);
	pem[len] = '\0';
	mbedtls_pk_init(&pk);
#if MBEDTLS_VERSION_MAJOR >= 3
	n = mbedtls_pk_parse_key(&pk, (const unsigned char *)pem, len + 1, NULL,
				 0, rng, NULL);
#else
	n = mbedtls_pk_parse_key(&pk, (const unsigned char *)pem, len + 1, NULL,
				 0);
	(void)rng;
#endif
	if (n != 0)
		goto out;
	/* Written at the end of der[]; n bytes. */
	n = mbedtls_pk_write_key_der(&pk, der, sizeof(der));
	if (n != DER_LEN)
		goto out;
	{
		const uint8_t *d = der + sizeof(der) - DER_LEN;

		if (memcmp(d, DER_HEAD, sizeof(DER_HEAD)) != 0 ||
		    memcmp(d + 7 + FL_P256_PRIV_BYTES, DER_MID,
			   sizeof(DER_MID)) != 0 ||
		    d[DER_LEN - 65] != 0x04)
			goto out;
		memcpy(key.priv, d + 7, FL_P256_PRIV_BYTES);
		memcpy(key.pub, d + DER_LEN - 65, 65);
	}
	memcpy(key.name, device_id, strlen(device_id) + 1);
	rc = fl_wrap_kid(key.kid, crypto, key.pub);
out:
	mbedtls_pk_free(&pk);
	mbedtls_platform_zeroize(pem, sizeof(pem));
	mbedtls_platform_zeroize(der, sizeof(der));
	if (rc != 0)
		mbedtls_platform_zeroize(&key, sizeof(key));
	return rc;
}

int fl_esp32_sealing_configure(struct fl_agent_config *c, const char *device_id,
			       const struct fl_crypto_ops *crypto)
{
	int rc = load(device_id, crypto);

	if (rc != 0) {
		ESP_LOGE(TAG, "wrap key (CONFIG_FL_AGENT_WRAP_KEY_FILE): not a "
			      "P-256 private key in PEM");
		return rc;
	}
	c->device_id = device_id;
	c->wrap_keys = &key;
	c->n_wrap_keys = 1;
	c->unzip.ops = NULL; /* no zstd: stored containers only */
	c->unzip.ctx = NULL;
	c->seal_chunk_max = CHUNK_MAX;
	c->seal_bufs = &bufs;
	ESP_LOGI(TAG,
		 "encrypted images: uncompressed, chunks up to %u bytes "
		 "(buffer %u bytes)",
		 (unsigned)CHUNK_MAX, (unsigned)sizeof(rec));
	return 0;
}
