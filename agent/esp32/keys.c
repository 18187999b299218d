/*
 * keys.c -- the trusted manifest keys: the PEM file named by
 * CONFIG_FL_AGENT_TRUSTED_KEYS_FILE, embedded in the firmware at build
 * time (CMakeLists.txt copies it to fl_trusted_keys.pem, so the linker
 * symbols do not depend on its name), read at start.
 *
 * Method: each "-----BEGIN PUBLIC KEY-----" block is parsed by Mbed TLS
 * (mbedtls_pk_parse_public_key) and written back as DER
 * (mbedtls_pk_write_pubkey_der); a P-256 key's SubjectPublicKeyInfo is a
 * fixed 26-byte prefix (id-ecPublicKey, prime256v1, the bit string
 * header) followed by the 65-byte uncompressed point, which is what the
 * manifest verification takes (fl/proto.h, struct fl_manifest_key). So the
 * curve is checked by comparing the prefix, without touching Mbed TLS's
 * private struct members, which change between its versions.
 */
#include <string.h>

#include "esp_log.h"
#include "mbedtls/pk.h"

#include "esp32_priv.h"
#include "fl/err.h"

#define PEM_BEGIN "-----BEGIN PUBLIC KEY-----"
#define PEM_END	  "-----END PUBLIC KEY-----"
#define PEM_MAX	  512 /* a P-256 public key in PEM is about 180 bytes */

extern const char keys_start[] asm("_binary_fl_trusted_keys_pem_start");
extern const char keys_end[] asm("_binary_fl_trusted_keys_pem_end");

static const char *TAG = FL_ESP32_TAG;

/* SubjectPublicKeyInfo of a P-256 key, up to the point. */
static const uint8_t P256_SPKI[26] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
	0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
	0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
};

/* One PEM block (NUL-terminated, as Mbed TLS wants) into one key. */
static int parse_one(struct fl_manifest_key *k, const char *pem, size_t len,
		     const struct fl_crypto_ops *crypto)
{
	mbedtls_pk_context pk;
	uint8_t der[128];
	int n, rc = FL_EINVAL;

	mbedtls_pk_init(&pk);
	if (mbedtls_pk_parse_public_key(&pk, (const unsigned char *)pem,
					len + 1) != 0)
		goto out;
	/* Written at the end of der[]; n bytes. */
	n = mbedtls_pk_write_pubkey_der(&pk, der, sizeof(der));
	if (n != (int)sizeof(P256_SPKI) + FL_MANIFEST_PUB_BYTES ||
	    memcmp(der + sizeof(der) - n, P256_SPKI, sizeof(P256_SPKI)) != 0)
		goto out;
	memcpy(k->pub, der + sizeof(der) - FL_MANIFEST_PUB_BYTES,
	       FL_MANIFEST_PUB_BYTES);
	rc = fl_manifest_kid(k->kid, crypto, k->pub);
out:
	mbedtls_pk_free(&pk);
	return rc;
}

int fl_esp32_keys_load(struct fl_manifest_key keys[FL_ESP32_KEYS_MAX],
		       const struct fl_crypto_ops *crypto)
{
	static char pem[PEM_MAX];
	const char *p = keys_start, *end = keys_end;
	int n = 0;

	/* TEXT embedding adds a NUL after the file: do not count it. */
	if (end > p && end[-1] == '\0')
		end--;
	for (;;) {
		const char *b = strstr(p, PEM_BEGIN), *e;
		size_t len;

		if (b == NULL || b >= end)
			break;
		e = strstr(b, PEM_END);
		if (e == NULL || e >= end)
			return FL_EINVAL;
		e += strlen(PEM_END);
		len = (size_t)(e - b);
		if (n == FL_ESP32_KEYS_MAX || len >= sizeof(pem)) {
			ESP_LOGE(TAG,
				 "keys: more than %d keys, or one too long",
				 FL_ESP32_KEYS_MAX);
			return FL_EINVAL;
		}
		memcpy(pem, b, len);
		pem[len] = '\0';
		if (parse_one(&keys[n], pem, len, crypto) != 0) {
			ESP_LOGE(TAG, "keys: key %d is not a P-256 public key",
				 n);
			return FL_EINVAL;
		}
		n++;
		p = e;
	}
	if (n == 0) {
		ESP_LOGE(TAG, "keys: no \"%s\" in the trusted keys file",
			 PEM_BEGIN);
		return FL_EINVAL;
	}
	return n;
}
