/*
 * crypto_mbedtls.c -- the crypto port on Mbed TLS: SHA-256 that never
 * allocates, and ECDSA P-256 verification of a prehashed digest.
 *
 * The SHA-256 state is an mbedtls_sha256_context kept inside the caller's
 * struct fl_hash_ctx; Mbed TLS's software SHA-256 works on that struct
 * alone. Verification loads the P-256 group, reads and checks the public
 * point (mbedtls_ecp_point_read_binary does not check that the point is on
 * the curve, mbedtls_ecp_check_pubkey does), reads r and s as bignums and
 * calls mbedtls_ecdsa_verify; the bignums allocate through Mbed TLS's
 * calloc and every path frees them. Mbed TLS 3 renamed the 2.x
 * mbedtls_sha256_*_ret functions to the plain names; the macros below pick
 * the right ones from MBEDTLS_VERSION_NUMBER, so the file builds on both.
 *
 * AES-256-GCM opens a chunk in place with an mbedtls_gcm_context on the
 * stack (mbedtls_gcm_setkey allocates the AES context, freed before the
 * call returns); mbedtls_gcm_auth_decrypt wipes a chunk whose tag does
 * not match. ECDH multiplies the checked peer
 * point by the checked scalar (mbedtls_ecdh_compute_shared); the blinding
 * that Mbed TLS wants a random generator for is fed by a generator derived
 * with SHA-256 from the scalar, the point and a counter (it protects the
 * scalar against timing; the result does not depend on it), so the port
 * needs no entropy source and builds with MBEDTLS_ECP_NO_INTERNAL_RNG.
 */
#include "fl/crypto_mbedtls.h"

#include <mbedtls/version.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecp.h>
#include <mbedtls/gcm.h>
#include <mbedtls/sha256.h>

#include <string.h>

#include "fl/err.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define SHA256_STARTS mbedtls_sha256_starts
#define SHA256_UPDATE mbedtls_sha256_update
#define SHA256_FINISH mbedtls_sha256_finish
#else
#define SHA256_STARTS mbedtls_sha256_starts_ret
#define SHA256_UPDATE mbedtls_sha256_update_ret
#define SHA256_FINISH mbedtls_sha256_finish_ret
#endif

#define P256_POINT_BYTES  65 /* 0x04 || X || Y */
#define P256_SCALAR_BYTES 32

_Static_assert(sizeof(mbedtls_sha256_context) <= sizeof(struct fl_hash_ctx),
	       "mbedtls_sha256_context does not fit in struct fl_hash_ctx");
_Static_assert(_Alignof(mbedtls_sha256_context) <= _Alignof(struct fl_hash_ctx),
	       "struct fl_hash_ctx is not aligned enough for the context");

static mbedtls_sha256_context *sha_state(struct fl_hash_ctx *ctx)
{
	return (mbedtls_sha256_context *)(void *)ctx->u.bytes;
}

/* Errors: FL_ECRYPTO (only from an alternative, hardware implementation). */
static int mbed_sha256_init(struct fl_hash_ctx *ctx)
{
	mbedtls_sha256_context *c = sha_state(ctx);

	mbedtls_sha256_init(c);
	return SHA256_STARTS(c, 0) == 0 ? 0 : FL_ECRYPTO;
}

/* Errors: FL_ECRYPTO. data may be NULL when len is 0. */
static int mbed_sha256_update(struct fl_hash_ctx *ctx, const void *data,
			      size_t len)
{
	if (len == 0)
		return 0;
	return SHA256_UPDATE(sha_state(ctx), data, len) == 0 ? 0 : FL_ECRYPTO;
}

/* Errors: FL_ECRYPTO. The context must be initialised again before reuse. */
static int mbed_sha256_final(struct fl_hash_ctx *ctx,
			     uint8_t out[FL_SHA256_BYTES])
{
	mbedtls_sha256_context *c = sha_state(ctx);
	int rc;

	rc = SHA256_FINISH(c, out) == 0 ? 0 : FL_ECRYPTO;
	mbedtls_sha256_free(c); /* wipes the state; nothing to release */
	return rc;
}

/* Maps an error from reading or checking the public point: an allocation
 * failure is the backend's, anything else means a malformed key. */
static int point_error(int mbed_rc)
{
	return mbed_rc == MBEDTLS_ERR_MPI_ALLOC_FAILED ? FL_ECRYPTO : FL_EINVAL;
}

/*
 * Verifies sig (r || s) over digest with the P-256 key pub (0x04 || X || Y).
 * Errors:
 *   FL_EINVAL  an argument is NULL, or pub is not an uncompressed point on
 *              the curve with coordinates below the field prime;
 *   FL_EVERIFY the signature does not verify, including r or s equal to 0
 *              or not below the group order n (a malformed signature is a
 *              wrong signature, not a caller error);
 *   FL_ECRYPTO allocation or other Mbed TLS failure.
 */
static int mbed_p256_verify(const uint8_t pub[P256_POINT_BYTES],
			    const uint8_t digest[FL_SHA256_BYTES],
			    const uint8_t sig[2 * P256_SCALAR_BYTES])
{
	mbedtls_ecp_group group;
	mbedtls_ecp_point q;
	mbedtls_mpi r;
	mbedtls_mpi s;
	int mrc;
	int rc = FL_ECRYPTO;

	mbedtls_ecp_group_init(&group);
	mbedtls_ecp_point_init(&q);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);

	if (pub == NULL || digest == NULL || sig == NULL || pub[0] != 0x04) {
		rc = FL_EINVAL;
		goto out;
	}
	if (mbedtls_ecp_group_load(&group, MBEDTLS_ECP_DP_SECP256R1) != 0)
		goto out;
	mrc = mbedtls_ecp_point_read_binary(&group, &q, pub, P256_POINT_BYTES);
	if (mrc == 0)
		mrc = mbedtls_ecp_check_pubkey(&group, &q);
	if (mrc != 0) {
		rc = point_error(mrc);
		goto out;
	}
	if (mbedtls_mpi_read_binary(&r, sig, P256_SCALAR_BYTES) != 0 ||
	    mbedtls_mpi_read_binary(&s, sig + P256_SCALAR_BYTES,
				    P256_SCALAR_BYTES) != 0)
		goto out;
	mrc = mbedtls_ecdsa_verify(&group, digest, FL_SHA256_BYTES, &q, &r, &s);
	if (mrc == 0)
		rc = 0;
	else if (mrc == MBEDTLS_ERR_ECP_VERIFY_FAILED)
		rc = FL_EVERIFY;
out:
	mbedtls_mpi_free(&s);
	mbedtls_mpi_free(&r);
	mbedtls_ecp_point_free(&q);
	mbedtls_ecp_group_free(&group);
	return rc;
}

/* Errors: FL_EVERIFY (buf wiped), FL_EINVAL, FL_ECRYPTO (buf wiped). */
static int mbed_gcm_open(const uint8_t key[FL_AES256_KEY_BYTES],
			 const uint8_t iv[FL_GCM_IV_BYTES], const uint8_t *aad,
			 size_t aad_len, uint8_t *buf, size_t len,
			 const uint8_t tag[FL_GCM_TAG_BYTES])
{
	mbedtls_gcm_context g;
	int mrc;

	if (key == NULL || iv == NULL || tag == NULL ||
	    (aad == NULL && aad_len > 0) || (buf == NULL && len > 0))
		return FL_EINVAL;
	mbedtls_gcm_init(&g);
	mrc = mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key,
				 8 * FL_AES256_KEY_BYTES);
	if (mrc == 0)
		mrc = mbedtls_gcm_auth_decrypt(&g, len, iv, FL_GCM_IV_BYTES,
					       aad, aad_len, tag,
					       FL_GCM_TAG_BYTES, buf, buf);
	mbedtls_gcm_free(&g);
	if (mrc == 0)
		return 0;
	if (len > 0)
		memset(buf, 0, len);
	return mrc == MBEDTLS_ERR_GCM_AUTH_FAILED ? FL_EVERIFY : FL_ECRYPTO;
}

/* The blinding generator of mbed_p256_ecdh: SHA-256 over a seed and a
 * counter, block after block. */
struct blind_rng {
	uint8_t seed[FL_SHA256_BYTES];
	uint32_t counter;
};

static int blind_random(void *p, unsigned char *out, size_t len)
{
	struct blind_rng *r = p;
	mbedtls_sha256_context c;
	uint8_t block[FL_SHA256_BYTES];
	uint8_t ctr[4];
	int rc = 0;

	while (rc == 0 && len > 0) {
		size_t n = len < sizeof(block) ? len : sizeof(block);

		r->counter++;
		ctr[0] = (uint8_t)r->counter;
		ctr[1] = (uint8_t)(r->counter >> 8);
		ctr[2] = (uint8_t)(r->counter >> 16);
		ctr[3] = (uint8_t)(r->counter >> 24);
		mbedtls_sha256_init(&c);
		rc = SHA256_STARTS(&c, 0);
		if (rc == 0)
			rc = SHA256_UPDATE(&c, r->seed, sizeof(r->seed));
		if (rc == 0)
			rc = SHA256_UPDATE(&c, ctr, sizeof(ctr));
		if (rc == 0)
			rc = SHA256_FINISH(&c, block);
		mbedtls_sha256_free(&c);
		memcpy(out, block, n);
		out += n;
		len -= n;
	}
	memset(block, 0, sizeof(block));
	return rc;
}

/* Errors: FL_EINVAL (a scalar outside [1, n-1], a point off the curve),
 * FL_ECRYPTO. */
static int mbed_p256_ecdh(const uint8_t priv[FL_P256_PRIV_BYTES],
			  const uint8_t peer[P256_POINT_BYTES],
			  uint8_t out[FL_ECDH_BYTES])
{
	mbedtls_ecp_group group;
	mbedtls_ecp_point q;
	mbedtls_mpi d, z;
	mbedtls_sha256_context h;
	struct blind_rng rng;
	int mrc;
	int rc = FL_ECRYPTO;

	if (priv == NULL || peer == NULL || out == NULL)
		return FL_EINVAL;
	mbedtls_ecp_group_init(&group);
	mbedtls_ecp_point_init(&q);
	mbedtls_mpi_init(&d);
	mbedtls_mpi_init(&z);
	memset(&rng, 0, sizeof(rng));
	if (peer[0] != 0x04) {
		rc = FL_EINVAL;
		goto out;
	}
	if (mbedtls_ecp_group_load(&group, MBEDTLS_ECP_DP_SECP256R1) != 0)
		goto out;
	mrc = mbedtls_ecp_point_read_binary(&group, &q, peer, P256_POINT_BYTES);
	if (mrc == 0)
		mrc = mbedtls_ecp_check_pubkey(&group, &q);
	if (mrc != 0) {
		rc = point_error(mrc);
		goto out;
	}
	if (mbedtls_mpi_read_binary(&d, priv, FL_P256_PRIV_BYTES) != 0)
		goto out;
	if (mbedtls_ecp_check_privkey(&group, &d) != 0) {
		rc = FL_EINVAL;
		goto out;
	}
	mbedtls_sha256_init(&h);
	mrc = SHA256_STARTS(&h, 0);
	if (mrc == 0)
		mrc = SHA256_UPDATE(&h, priv, FL_P256_PRIV_BYTES);
	if (mrc == 0)
		mrc = SHA256_UPDATE(&h, peer, P256_POINT_BYTES);
	if (mrc == 0)
		mrc = SHA256_FINISH(&h, rng.seed);
	mbedtls_sha256_free(&h);
	if (mrc != 0)
		goto out;
	if (mbedtls_ecdh_compute_shared(&group, &z, &q, &d, blind_random,
					&rng) != 0 ||
	    mbedtls_mpi_write_binary(&z, out, FL_ECDH_BYTES) != 0)
		goto out;
	rc = 0;
out:
	memset(&rng, 0, sizeof(rng));
	mbedtls_mpi_free(&z);
	mbedtls_mpi_free(&d);
	mbedtls_ecp_point_free(&q);
	mbedtls_ecp_group_free(&group);
	if (rc != 0)
		memset(out, 0, FL_ECDH_BYTES);
	return rc;
}

const struct fl_crypto_ops fl_crypto_mbedtls = {
	.version = FL_CRYPTO_OPS_VERSION,
	.name = "mbedtls",
	.sha256_init = mbed_sha256_init,
	.sha256_update = mbed_sha256_update,
	.sha256_final = mbed_sha256_final,
	.p256_verify = mbed_p256_verify,
	.gcm_open = mbed_gcm_open,
	.p256_ecdh = mbed_p256_ecdh,
};
