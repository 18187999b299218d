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
};

#define FL_CRYPTO_OPS_VERSION 1u

/* One-shot SHA-256 through a port. Returns 0 or the port's error. */
int fl_sha256(const struct fl_crypto_ops *c, const void *data, size_t len,
	      uint8_t out[FL_SHA256_BYTES]);

#endif
