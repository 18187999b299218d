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
 */
#include "fl/crypto_mbedtls.h"

#include <mbedtls/version.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/sha256.h>

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

const struct fl_crypto_ops fl_crypto_mbedtls = {
	.version = FL_CRYPTO_OPS_VERSION,
	.name = "mbedtls",
	.sha256_init = mbed_sha256_init,
	.sha256_update = mbed_sha256_update,
	.sha256_final = mbed_sha256_final,
	.p256_verify = mbed_p256_verify,
};
