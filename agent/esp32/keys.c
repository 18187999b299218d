/*
 * keys.c -- the trusted manifest keys and the root keys: the PEM files
 * named by CONFIG_FL_AGENT_TRUSTED_KEYS_FILE (signing keys trusted
 * directly, envelope 1) and CONFIG_FL_AGENT_ROOT_KEYS_FILE (root keys
 * that certify signing keys, envelope 2; docs/formats.md), embedded in the
 * firmware at build time (CMakeLists.txt copies them to
 * fl_trusted_keys.pem and fl_root_keys.pem, an empty file for one not
 * configured, so the linker symbols do not depend on their names), read
 * at start.
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
extern const char roots_start[] asm("_binary_fl_root_keys_pem_start");
extern const char roots_end[] asm("_binary_fl_root_keys_pem_end");

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

/* Every PEM block of the embedded file [p, end) into keys[0, max).
 * Returns the number of keys (0 for a file without any) or FL_EINVAL. */
static int load(struct fl_manifest_key *keys, int max, const char *p,
		const char *end, const char *what,
		const struct fl_crypto_ops *crypto)
{
	static char pem[PEM_MAX];
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
		if (n == max || len >= sizeof(pem)) {
			ESP_LOGE(TAG, "%s: more than %d keys, or one too long",
				 what, max);
			return FL_EINVAL;
		}
		memcpy(pem, b, len);
		pem[len] = '\0';
		if (parse_one(&keys[n], pem, len, crypto) != 0) {
			ESP_LOGE(TAG, "%s: key %d is not a P-256 public key",
				 what, n);
			return FL_EINVAL;
		}
		for (int i = 0; i < n; i++) {
			if (memcmp(keys[i].kid, keys[n].kid,
				   FL_MANIFEST_KID_BYTES) == 0) {
				ESP_LOGE(TAG, "%s: key %d is key %d again",
					 what, n, i);
				return FL_EINVAL;
			}
		}
		n++;
		p = e;
	}
	return n;
}

int fl_esp32_keys_load(struct fl_manifest_key keys[FL_ESP32_KEYS_MAX],
		       int *n_keys,
		       struct fl_manifest_key roots[FL_ESP32_ROOTS_MAX],
		       int *n_roots, const struct fl_crypto_ops *crypto)
{
	*n_keys = load(keys, FL_ESP32_KEYS_MAX, keys_start, keys_end, "keys",
		       crypto);
	if (*n_keys < 0)
		return *n_keys;
	*n_roots = load(roots, FL_ESP32_ROOTS_MAX, roots_start, roots_end,
			"roots", crypto);
	if (*n_roots < 0)
		return *n_roots;
	if (*n_keys + *n_roots == 0) {
		ESP_LOGE(TAG,
			 "keys: no \"%s\" in the trusted keys file nor in "
			 "the root keys file",
			 PEM_BEGIN);
		return FL_EINVAL;
	}
	return 0;
}
