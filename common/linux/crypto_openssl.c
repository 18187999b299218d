/*
 * crypto_openssl.c -- the crypto port on OpenSSL 3: SHA-256 that never
 * allocates, and ECDSA P-256 verification of a prehashed digest.
 *
 * Method: SHA-256 runs on OpenSSL's low-level SHA256_Init/Update/Final over
 * a SHA256_CTX kept inside the caller's struct fl_hash_ctx. OpenSSL 3
 * deprecates these in favour of EVP_MD_CTX, but EVP_MD_CTX_new and
 * EVP_DigestInit allocate and fetch a provider implementation on every
 * init, and the agent's install path must not allocate; the low-level
 * functions are plain code over a plain struct and remain in every 3.x
 * release. They are the only deprecated API used, which is why the
 * deprecation switches below are set in this one file and nowhere else.
 * Verification uses current APIs only and may allocate (it runs once per
 * image, outside the write loop): the point is parsed and checked against
 * the curve with EC_POINT_oct2point, imported as an EVP_PKEY from
 * OSSL_PARAMs, r || s is re-encoded as a DER ECDSA-Sig-Value, and
 * EVP_PKEY_verify checks it against the digest. OpenSSL's per-thread error
 * queue is restored to what the caller had, so failures leave no residue.
 *
 * AES-256-GCM opens a chunk in place through an EVP_CIPHER_CTX made and
 * freed within the call (a few hundred bytes, next to the chunk's
 * kilobytes of work). ECDH multiplies the checked peer point
 * by the scalar with EC_POINT_mul (OpenSSL's constant-time ladder for one
 * point and a scalar flagged BN_FLG_CONSTTIME).
 */

/* Keep the SHA256_* declarations visible even in builds that ask for the
 * 3.0 API only, and silence their deprecation warnings (see Method). */
#define OPENSSL_API_COMPAT 0x10101000L
#define OPENSSL_SUPPRESS_DEPRECATED

#include "fl/crypto_openssl.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include "fl/err.h"

#define P256_POINT_BYTES  65 /* 0x04 || X || Y */
#define P256_SCALAR_BYTES 32
/* SEQUENCE { INTEGER r, INTEGER s }, each INTEGER at most 33 bytes. */
#define ECDSA_DER_MAX 72

_Static_assert(sizeof(SHA256_CTX) <= sizeof(struct fl_hash_ctx),
	       "SHA256_CTX does not fit in struct fl_hash_ctx");
_Static_assert(_Alignof(SHA256_CTX) <= _Alignof(struct fl_hash_ctx),
	       "struct fl_hash_ctx is not aligned enough for SHA256_CTX");

static SHA256_CTX *sha_state(struct fl_hash_ctx *ctx)
{
	return (SHA256_CTX *)(void *)ctx->u.bytes;
}

/* Errors: FL_ECRYPTO (never in practice: the low-level init cannot fail). */
static int ossl_sha256_init(struct fl_hash_ctx *ctx)
{
	return SHA256_Init(sha_state(ctx)) == 1 ? 0 : FL_ECRYPTO;
}

/* Errors: FL_ECRYPTO. data may be NULL when len is 0. */
static int ossl_sha256_update(struct fl_hash_ctx *ctx, const void *data,
			      size_t len)
{
	if (len == 0)
		return 0;
	return SHA256_Update(sha_state(ctx), data, len) == 1 ? 0 : FL_ECRYPTO;
}

/* Errors: FL_ECRYPTO. The context must be initialised again before reuse. */
static int ossl_sha256_final(struct fl_hash_ctx *ctx,
			     uint8_t out[FL_SHA256_BYTES])
{
	return SHA256_Final(out, sha_state(ctx)) == 1 ? 0 : FL_ECRYPTO;
}

/* Checks that pub is an uncompressed point on P-256 with coordinates below
 * the field prime. Returns 0, FL_EINVAL, or FL_ECRYPTO when the group or
 * point cannot be allocated. */
static int check_point(const uint8_t pub[P256_POINT_BYTES])
{
	EC_GROUP *group = NULL;
	EC_POINT *point = NULL;
	int rc = FL_ECRYPTO;

	if (pub[0] != 0x04) {
		rc = FL_EINVAL;
		goto out;
	}
	group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	if (group == NULL)
		goto out;
	point = EC_POINT_new(group);
	if (point == NULL)
		goto out;
	if (EC_POINT_oct2point(group, point, pub, P256_POINT_BYTES, NULL) !=
		    1 ||
	    EC_POINT_is_on_curve(group, point, NULL) != 1) {
		rc = FL_EINVAL;
		goto out;
	}
	rc = 0;
out:
	EC_POINT_free(point);
	EC_GROUP_free(group);
	return rc;
}

/* Imports a checked public point as an EVP_PKEY, owned by the caller
 * (EVP_PKEY_free) on success only. Returns 0 or FL_ECRYPTO. */
static int import_key(const uint8_t pub[P256_POINT_BYTES], EVP_PKEY **out)
{
	char group_name[] = SN_X9_62_prime256v1;
	unsigned char point[P256_POINT_BYTES];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	int rc = FL_ECRYPTO;

	memcpy(point, pub, sizeof(point));
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						     group_name, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
						      point, sizeof(point));
	params[2] = OSSL_PARAM_construct_end();

	pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	*out = pkey;
	pkey = NULL;
	rc = 0;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

/* Encodes r || s (big-endian, 32 bytes each) as a DER ECDSA-Sig-Value in
 * der[ECDSA_DER_MAX]. Returns 0 or FL_ECRYPTO. */
static int encode_sig(const uint8_t sig[2 * P256_SCALAR_BYTES],
		      unsigned char der[ECDSA_DER_MAX], size_t *der_len)
{
	ECDSA_SIG *esig = NULL;
	BIGNUM *r = NULL;
	BIGNUM *s = NULL;
	unsigned char *p = der;
	int len;
	int rc = FL_ECRYPTO;

	esig = ECDSA_SIG_new();
	r = BN_bin2bn(sig, P256_SCALAR_BYTES, NULL);
	s = BN_bin2bn(sig + P256_SCALAR_BYTES, P256_SCALAR_BYTES, NULL);
	if (esig == NULL || r == NULL || s == NULL)
		goto out;
	if (ECDSA_SIG_set0(esig, r, s) != 1)
		goto out;
	r = NULL; /* now owned by esig */
	s = NULL;
	len = i2d_ECDSA_SIG(esig, NULL);
	if (len <= 0 || len > ECDSA_DER_MAX)
		goto out;
	if (i2d_ECDSA_SIG(esig, &p) != len)
		goto out;
	*der_len = (size_t)len;
	rc = 0;
out:
	BN_free(s);
	BN_free(r);
	ECDSA_SIG_free(esig);
	return rc;
}

/*
 * Verifies sig (r || s) over digest with the P-256 key pub (0x04 || X || Y).
 * Errors:
 *   FL_EINVAL  an argument is NULL, or pub is not an uncompressed point on
 *              the curve with coordinates below the field prime;
 *   FL_EVERIFY the signature does not verify, including r or s equal to 0
 *              or not below the group order n (a malformed signature is a
 *              wrong signature, not a caller error);
 *   FL_ECRYPTO allocation or other OpenSSL failure.
 */
static int ossl_p256_verify(const uint8_t pub[P256_POINT_BYTES],
			    const uint8_t digest[FL_SHA256_BYTES],
			    const uint8_t sig[2 * P256_SCALAR_BYTES])
{
	unsigned char der[ECDSA_DER_MAX];
	size_t der_len = 0;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *vctx = NULL;
	int rc;
	int ok;

	if (pub == NULL || digest == NULL || sig == NULL)
		return FL_EINVAL;
	ERR_set_mark();
	rc = check_point(pub);
	if (rc != 0)
		goto out;
	rc = import_key(pub, &pkey);
	if (rc != 0)
		goto out;
	rc = encode_sig(sig, der, &der_len);
	if (rc != 0)
		goto out;
	rc = FL_ECRYPTO;
	vctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (vctx == NULL || EVP_PKEY_verify_init(vctx) != 1)
		goto out;
	ok = EVP_PKEY_verify(vctx, der, der_len, digest, FL_SHA256_BYTES);
	if (ok == 1)
		rc = 0;
	else if (ok == 0)
		rc = FL_EVERIFY;
out:
	EVP_PKEY_CTX_free(vctx);
	EVP_PKEY_free(pkey);
	ERR_pop_to_mark();
	return rc;
}

/* Errors: FL_EVERIFY (buf wiped), FL_EINVAL, FL_ECRYPTO (buf wiped). */
static int ossl_gcm_open(const uint8_t key[FL_AES256_KEY_BYTES],
			 const uint8_t iv[FL_GCM_IV_BYTES], const uint8_t *aad,
			 size_t aad_len, uint8_t *buf, size_t len,
			 const uint8_t tag[FL_GCM_TAG_BYTES])
{
	EVP_CIPHER_CTX *e;
	unsigned char t[FL_GCM_TAG_BYTES];
	int n = 0, rc = FL_ECRYPTO;

	if (key == NULL || iv == NULL || tag == NULL ||
	    (aad == NULL && aad_len > 0) || (buf == NULL && len > 0) ||
	    len > INT32_MAX || aad_len > INT32_MAX)
		return FL_EINVAL;
	memcpy(t, tag, sizeof(t));
	ERR_set_mark();
	e = EVP_CIPHER_CTX_new();
	if (e == NULL ||
	    EVP_DecryptInit_ex(e, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_SET_IVLEN, FL_GCM_IV_BYTES,
				NULL) != 1 ||
	    EVP_DecryptInit_ex(e, NULL, NULL, key, iv) != 1)
		goto out;
	if (aad_len > 0 &&
	    EVP_DecryptUpdate(e, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	if (len > 0 && EVP_DecryptUpdate(e, buf, &n, buf, (int)len) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_SET_TAG, FL_GCM_TAG_BYTES, t) !=
	    1)
		goto out;
	rc = EVP_DecryptFinal_ex(e, buf + len, &n) == 1 ? 0 : FL_EVERIFY;
out:
	EVP_CIPHER_CTX_free(e);
	ERR_pop_to_mark();
	if (rc != 0 && len > 0)
		memset(buf, 0, len);
	return rc;
}

/* Errors: FL_EINVAL (a scalar outside [1, n-1], a point off the curve),
 * FL_ECRYPTO. */
static int ossl_p256_ecdh(const uint8_t priv[FL_P256_PRIV_BYTES],
			  const uint8_t peer[P256_POINT_BYTES],
			  uint8_t out[FL_ECDH_BYTES])
{
	EC_GROUP *group = NULL;
	EC_POINT *q = NULL, *r = NULL;
	BIGNUM *d = NULL, *x = NULL;
	BN_CTX *bn = NULL;
	int rc;

	if (priv == NULL || peer == NULL || out == NULL)
		return FL_EINVAL;
	ERR_set_mark();
	rc = check_point(peer);
	if (rc != 0)
		goto out;
	rc = FL_ECRYPTO;
	group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	bn = BN_CTX_new();
	q = group != NULL ? EC_POINT_new(group) : NULL;
	r = group != NULL ? EC_POINT_new(group) : NULL;
	d = BN_secure_new();
	x = BN_new();
	if (q == NULL || r == NULL || d == NULL || x == NULL || bn == NULL)
		goto out;
	BN_set_flags(d, BN_FLG_CONSTTIME);
	if (BN_bin2bn(priv, FL_P256_PRIV_BYTES, d) == NULL)
		goto out;
	if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(group)) >= 0) {
		rc = FL_EINVAL;
		goto out;
	}
	if (EC_POINT_oct2point(group, q, peer, P256_POINT_BYTES, bn) != 1 ||
	    EC_POINT_mul(group, r, NULL, q, d, bn) != 1 ||
	    EC_POINT_is_at_infinity(group, r) ||
	    EC_POINT_get_affine_coordinates(group, r, x, NULL, bn) != 1 ||
	    BN_bn2binpad(x, out, FL_ECDH_BYTES) != FL_ECDH_BYTES)
		goto out;
	rc = 0;
out:
	BN_clear_free(x);
	BN_clear_free(d);
	EC_POINT_clear_free(r);
	EC_POINT_free(q);
	EC_GROUP_free(group);
	BN_CTX_free(bn);
	ERR_pop_to_mark();
	if (rc != 0)
		memset(out, 0, FL_ECDH_BYTES);
	return rc;
}

const struct fl_crypto_ops fl_crypto_openssl = {
	.version = FL_CRYPTO_OPS_VERSION,
	.name = "openssl",
	.sha256_init = ossl_sha256_init,
	.sha256_update = ossl_sha256_update,
	.sha256_final = ossl_sha256_final,
	.p256_verify = ossl_p256_verify,
	.gcm_open = ossl_gcm_open,
	.p256_ecdh = ossl_p256_ecdh,
};

/*
 * The first P-256 verification in a process costs OpenSSL 2-4 ms (it
 * fetches the EC key management and signature implementations from its
 * provider and sets up the curve), every later one about 0.1 ms: a daemon
 * pays that at its start, not at its first offer. The check is a known
 * answer: a signature made once with a throw-away key over the SHA-256 of
 * KAT_MSG.
 */
#define KAT_MSG "fleet: P-256 known answer"

static const uint8_t kat_pub[P256_POINT_BYTES] = {
	0x04, 0xec, 0xa3, 0xa6, 0x56, 0x57, 0x89, 0xad, 0x6f, 0x84, 0x4d,
	0xda, 0x04, 0xaf, 0xf5, 0x95, 0x2d, 0x17, 0x4e, 0x52, 0x6f, 0xc7,
	0xb3, 0x3a, 0x73, 0x1d, 0x62, 0x96, 0x56, 0xba, 0x88, 0xc2, 0xa0,
	0xf9, 0x39, 0x0c, 0x9d, 0xd7, 0x19, 0xa6, 0x18, 0xde, 0x3f, 0x3b,
	0x71, 0xdd, 0x69, 0x40, 0xfe, 0x30, 0xb9, 0xc0, 0x85, 0x79, 0x15,
	0x59, 0x9e, 0xf4, 0x06, 0x2a, 0x4d, 0xd9, 0xc7, 0x30, 0x2d,
};

static const uint8_t kat_sig[2 * P256_SCALAR_BYTES] = {
	0x50, 0xea, 0x2b, 0x20, 0xab, 0x6a, 0xcf, 0xe6, 0xcf, 0x78, 0x4d,
	0x59, 0x98, 0xe3, 0x15, 0x20, 0x91, 0xfc, 0x61, 0x48, 0x67, 0x80,
	0xd4, 0x60, 0xbc, 0x04, 0x81, 0x9d, 0x78, 0x67, 0xc7, 0xc9, 0x71,
	0xb0, 0xaa, 0xa2, 0x44, 0x1b, 0x13, 0xa2, 0x4a, 0x3b, 0x71, 0xc7,
	0x49, 0x3a, 0xfd, 0x6b, 0x4d, 0xc7, 0xdf, 0x25, 0xe0, 0xe5, 0x06,
	0x38, 0xca, 0xcc, 0xf9, 0xe0, 0x5b, 0x42, 0x2e, 0x4e,
};

int fl_crypto_openssl_warm_up(void)
{
	struct fl_hash_ctx h;
	uint8_t digest[FL_SHA256_BYTES];
	int rc;

	rc = ossl_sha256_init(&h);
	if (rc == 0)
		rc = ossl_sha256_update(&h, KAT_MSG, sizeof(KAT_MSG) - 1);
	if (rc == 0)
		rc = ossl_sha256_final(&h, digest);
	return rc != 0 ? rc : ossl_p256_verify(kat_pub, digest, kat_sig);
}
