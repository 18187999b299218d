/*
 * crypto.c -- conveniences over the crypto port (portable): one-shot
 * SHA-256, and HMAC-SHA256 and HKDF-SHA256 built on the port's SHA-256, so
 * that a port needs no MAC or KDF of its own.
 */
#include "fl/crypto.h"

#include <string.h>

#include "fl/err.h"

#define SHA256_BLOCK 64

int fl_sha256(const struct fl_crypto_ops *c, const void *data, size_t len,
	      uint8_t out[FL_SHA256_BYTES])
{
	struct fl_hash_ctx ctx;
	int rc;

	rc = c->sha256_init(&ctx);
	if (rc == 0)
		rc = c->sha256_update(&ctx, data, len);
	if (rc == 0)
		rc = c->sha256_final(&ctx, out);
	return rc;
}

int fl_hmac_sha256(const struct fl_crypto_ops *c, const uint8_t *key,
		   size_t key_len, const struct fl_bytes *msg, unsigned n,
		   uint8_t out[FL_SHA256_BYTES])
{
	struct fl_hash_ctx ctx;
	uint8_t k[SHA256_BLOCK];
	uint8_t pad[SHA256_BLOCK];
	uint8_t inner[FL_SHA256_BYTES];
	int rc = 0;

	if (c == NULL || (key == NULL && key_len > 0) || out == NULL)
		return FL_EINVAL;
	memset(k, 0, sizeof(k));
	if (key_len > SHA256_BLOCK)
		rc = fl_sha256(c, key, key_len, k);
	else if (key_len > 0)
		memcpy(k, key, key_len);
	for (unsigned i = 0; i < SHA256_BLOCK; i++)
		pad[i] = (uint8_t)(k[i] ^ 0x36);
	if (rc == 0)
		rc = c->sha256_init(&ctx);
	if (rc == 0)
		rc = c->sha256_update(&ctx, pad, sizeof(pad));
	for (unsigned i = 0; rc == 0 && i < n; i++)
		rc = c->sha256_update(&ctx, msg[i].p, msg[i].len);
	if (rc == 0)
		rc = c->sha256_final(&ctx, inner);
	for (unsigned i = 0; i < SHA256_BLOCK; i++)
		pad[i] = (uint8_t)(k[i] ^ 0x5c);
	if (rc == 0)
		rc = c->sha256_init(&ctx);
	if (rc == 0)
		rc = c->sha256_update(&ctx, pad, sizeof(pad));
	if (rc == 0)
		rc = c->sha256_update(&ctx, inner, sizeof(inner));
	if (rc == 0)
		rc = c->sha256_final(&ctx, out);
	memset(k, 0, sizeof(k));
	memset(pad, 0, sizeof(pad));
	return rc;
}

int fl_hkdf_sha256(const struct fl_crypto_ops *c, const uint8_t *salt,
		   size_t salt_len, const uint8_t *ikm, size_t ikm_len,
		   const uint8_t *info, size_t info_len, uint8_t *out,
		   size_t out_len)
{
	uint8_t prk[FL_SHA256_BYTES];
	uint8_t t[FL_SHA256_BYTES];
	size_t done = 0, t_len = 0;
	uint8_t counter = 0;
	int rc;

	if (out == NULL || out_len == 0 || out_len > 255u * FL_SHA256_BYTES)
		return FL_EINVAL;
	{
		struct fl_bytes m = {ikm, ikm_len};

		rc = fl_hmac_sha256(c, salt, salt_len, &m, 1, prk);
	}
	while (rc == 0 && done < out_len) {
		struct fl_bytes m[3];
		size_t n;

		counter++;
		m[0].p = t;
		m[0].len = t_len;
		m[1].p = info;
		m[1].len = info_len;
		m[2].p = &counter;
		m[2].len = 1;
		rc = fl_hmac_sha256(c, prk, sizeof(prk), m, 3, t);
		t_len = sizeof(t);
		n = out_len - done < sizeof(t) ? out_len - done : sizeof(t);
		if (rc == 0)
			memcpy(out + done, t, n);
		done += n;
	}
	memset(prk, 0, sizeof(prk));
	memset(t, 0, sizeof(t));
	if (rc != 0)
		memset(out, 0, out_len);
	return rc;
}
