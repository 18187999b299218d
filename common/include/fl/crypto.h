/*
 * crypto.h -- the crypto port: the few primitives the portable code needs.
 *
 * Portable code (firmware-hal, agent/core) hashes and verifies only through
 * this table. Two real ports implement it: OpenSSL on Linux
 * (common/linux/crypto_openssl.c) and Mbed TLS for microcontrollers
 * (common/mbedtls/crypto_mbedtls.c, also built and tested on the host).
 * Both are checked against the same vectors in tests/unit/test_crypto.c.
 *
 * The hash state lives in a caller-provided fixed-size context, so hashing
 * never allocates: an installer embeds one struct fl_hash_ctx and reuses it.
 * Decryption opens one chunk at a time in the caller's buffer, in place;
 * whatever a port needs for it (a key schedule) lives only for the call.
 */
#ifndef FL_CRYPTO_H
#define FL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define FL_SHA256_BYTES	  32
#define FL_HASH_CTX_BYTES 256

/* Opaque storage for one running hash; large and aligned enough for the
 * state of every port (each port _Static_asserts that its state fits). */
struct fl_hash_ctx {
	union {
		uint8_t bytes[FL_HASH_CTX_BYTES];
		uint64_t align_u64;
		void *align_ptr;
		long double align_ld;
	} u;
};

#define FL_AES256_KEY_BYTES 32
#define FL_GCM_IV_BYTES	    12
#define FL_GCM_TAG_BYTES    16
#define FL_P256_PRIV_BYTES  32 /* a P-256 private scalar, big-endian */
#define FL_ECDH_BYTES	    32 /* the shared secret: the X coordinate */

struct fl_crypto_ops {
	unsigned version; /* FL_CRYPTO_OPS_VERSION */
	const char *name; /* "openssl", "mbedtls" */
	/* SHA-256. Each returns 0 or FL_ECRYPTO. None allocates. After
	 * final, ctx must be initialised again before it is reused. */
	int (*sha256_init)(struct fl_hash_ctx *ctx);
	int (*sha256_update)(struct fl_hash_ctx *ctx, const void *data,
			     size_t len);
	int (*sha256_final)(struct fl_hash_ctx *ctx,
			    uint8_t out[FL_SHA256_BYTES]);
	/* ECDSA P-256 verification of a SHA-256 digest. pub is the 65-byte
	 * uncompressed point (0x04 || X || Y); sig is r || s, 32 bytes each,
	 * big-endian. Returns 0 if valid; FL_EVERIFY if not, including r or
	 * s equal to 0 or >= n; FL_EINVAL for a malformed key or a NULL
	 * argument; FL_ECRYPTO on backend failure. May be NULL in a port
	 * that only hashes. */
	int (*p256_verify)(const uint8_t pub[65],
			   const uint8_t digest[FL_SHA256_BYTES],
			   const uint8_t sig[64]);

	/* Encrypted images (docs/formats.md, "Encrypted image"); both may
	 * be NULL in a port that does not decrypt.
	 *
	 * gcm_open: AES-256-GCM decryption of buf[0, len) IN PLACE with key,
	 * the 12-byte iv and the additional data aad[0, aad_len), checked
	 * against tag. Returns 0; FL_EVERIFY when the tag does not match
	 * (buf is then wiped: nothing of a forged chunk can be used);
	 * FL_EINVAL; FL_ECRYPTO (buf wiped). What it allocates (a key
	 * schedule) is released before it returns. */
	int (*gcm_open)(const uint8_t key[FL_AES256_KEY_BYTES],
			const uint8_t iv[FL_GCM_IV_BYTES], const uint8_t *aad,
			size_t aad_len, uint8_t *buf, size_t len,
			const uint8_t tag[FL_GCM_TAG_BYTES]);
	/* ECDH on P-256: the X coordinate of priv * peer, where priv is a
	 * big-endian scalar in [1, n-1] and peer an uncompressed point on
	 * the curve. Returns 0; FL_EINVAL (a bad scalar or point); FL_ECRYPTO.
	 * May allocate, and releases it before it returns. */
	int (*p256_ecdh)(const uint8_t priv[FL_P256_PRIV_BYTES],
			 const uint8_t peer[65], uint8_t out[FL_ECDH_BYTES]);
};

#define FL_CRYPTO_OPS_VERSION 1u

/* One-shot SHA-256 through a port. Returns 0 or the port's error. */
int fl_sha256(const struct fl_crypto_ops *c, const void *data, size_t len,
	      uint8_t out[FL_SHA256_BYTES]);

/* HMAC-SHA256 (RFC 2104) of the concatenation of msg[0, n) parts, through
 * the port's SHA-256. Returns 0 or the port's error. */
struct fl_bytes {
	const void *p;
	size_t len;
};
int fl_hmac_sha256(const struct fl_crypto_ops *c, const uint8_t *key,
		   size_t key_len, const struct fl_bytes *msg, unsigned n,
		   uint8_t out[FL_SHA256_BYTES]);

/* HKDF-SHA256 (RFC 5869): extract with salt from ikm, then expand info to
 * out_len bytes (at most 255 * 32). Returns 0, FL_EINVAL or the port's
 * error. */
int fl_hkdf_sha256(const struct fl_crypto_ops *c, const uint8_t *salt,
		   size_t salt_len, const uint8_t *ikm, size_t ikm_len,
		   const uint8_t *info, size_t info_len, uint8_t *out,
		   size_t out_len);

#endif
