/*
 * seal.c -- the portable half of encrypted images (seal.h): the
 * container header's rules, each chunk's nonce and additional data, and
 * the unwrap of a content key through the crypto port.
 *
 * Method: a chunk's additional data binds the whole header (and so the
 * random nonce base, the chunk size, the image length and the chunk count),
 * the chunk's index, whether it is the last one, and its payload length.
 * So no chunk can be moved to another place or container, dropped,
 * repeated, or cut short, and the image cannot be truncated at a chunk
 * boundary: the chunk that would end it early does not carry the last
 * flag it is opened with. The content key is unwrapped with a key derived
 * from an ephemeral ECDH secret, so the GCM nonce of a wrap can be
 * constant (zero): no two wraps share a key.
 */
#include "fl/seal.h"

#include <string.h>

#include "fl/bytes.h"
#include "fl/err.h"

static bool header_ok(const struct fl_seal_header *h)
{
	uint32_t want;

	if (h->zip != FL_SEAL_ZIP_NONE && h->zip != FL_SEAL_ZIP_ZSTD)
		return false;
	if (h->chunk_bytes < FL_SEAL_CHUNK_MIN ||
	    h->chunk_bytes > FL_SEAL_CHUNK_MAX ||
	    h->chunk_bytes % FL_SEAL_CHUNK_MIN != 0 || h->plain_len == 0)
		return false;
	want = h->plain_len / h->chunk_bytes +
	       (h->plain_len % h->chunk_bytes != 0 ? 1u : 0u);
	return h->chunks == want;
}

int fl_seal_header_decode(struct fl_seal_header *out,
			  const uint8_t in[FL_SEAL_HEADER_BYTES])
{
	if (out == NULL || in == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	if (fl_get_le32(in) != FL_SEAL_MAGIC || in[4] != FL_SEAL_FORMAT)
		return FL_ECORRUPT;
	out->zip = in[5];
	out->chunk_bytes = fl_get_le32(in + 8);
	out->plain_len = fl_get_le32(in + 12);
	out->chunks = fl_get_le32(in + 16);
	memcpy(out->nonce, in + 20, FL_GCM_IV_BYTES);
	if (fl_get_le16(in + 6) != 0 || !header_ok(out)) {
		memset(out, 0, sizeof(*out));
		return FL_EINVAL;
	}
	return 0;
}

int fl_seal_header_encode(uint8_t out[FL_SEAL_HEADER_BYTES],
			  const struct fl_seal_header *h)
{
	if (out == NULL || h == NULL || !header_ok(h))
		return FL_EINVAL;
	fl_put_le32(out, FL_SEAL_MAGIC);
	out[4] = FL_SEAL_FORMAT;
	out[5] = h->zip;
	fl_put_le16(out + 6, 0);
	fl_put_le32(out + 8, h->chunk_bytes);
	fl_put_le32(out + 12, h->plain_len);
	fl_put_le32(out + 16, h->chunks);
	memcpy(out + 20, h->nonce, FL_GCM_IV_BYTES);
	return 0;
}

uint32_t fl_seal_chunk_plain(const struct fl_seal_header *h, uint32_t index)
{
	uint32_t rest;

	if (h->chunks == 0 || index >= h->chunks)
		return 0;
	if (index + 1 < h->chunks)
		return h->chunk_bytes;
	rest = h->plain_len - (h->chunks - 1) * h->chunk_bytes;
	return rest;
}

void fl_seal_nonce(uint8_t out[FL_GCM_IV_BYTES], const struct fl_seal_header *h,
		   uint32_t index)
{
	uint8_t x[4];

	memcpy(out, h->nonce, FL_GCM_IV_BYTES);
	fl_put_le32(x, index);
	for (unsigned i = 0; i < 4; i++)
		out[FL_GCM_IV_BYTES - 4 + i] ^= x[i];
}

void fl_seal_aad(uint8_t out[FL_SEAL_AAD_BYTES],
		 const uint8_t hdr[FL_SEAL_HEADER_BYTES], uint32_t index,
		 bool is_last, uint32_t payload_len)
{
	memcpy(out, hdr, FL_SEAL_HEADER_BYTES);
	fl_put_le32(out + FL_SEAL_HEADER_BYTES, index);
	out[FL_SEAL_HEADER_BYTES + 4] = is_last ? 1 : 0;
	fl_put_le32(out + FL_SEAL_HEADER_BYTES + 5, payload_len);
}

/* ---- the wrapped content key ----------------------------------------- */

/* Layout of a wrapped key (docs/formats.md). */
#define W_KID 1
#define W_EPK (W_KID + FL_WRAP_KID_BYTES)
#define W_KEY (W_EPK + 65)
#define W_TAG (W_KEY + FL_AES256_KEY_BYTES)
_Static_assert(W_TAG + FL_GCM_TAG_BYTES == FL_WRAP_BYTES, "wrap layout");

size_t fl_wrap_aad(uint8_t out[FL_WRAP_AAD_MAX],
		   const uint8_t kid[FL_WRAP_KID_BYTES], const char *name,
		   const uint8_t manifest_sha256[FL_SHA256_BYTES])
{
	size_t n = name != NULL ? strlen(name) : 0, len = 0;

	if (n == 0 || n >= FL_WRAP_NAME_MAX)
		return 0;
	out[len++] = FL_WRAP_FORMAT;
	memcpy(out + len, kid, FL_WRAP_KID_BYTES);
	len += FL_WRAP_KID_BYTES;
	out[len++] = (uint8_t)n;
	memcpy(out + len, name, n);
	len += n;
	memcpy(out + len, manifest_sha256, FL_SHA256_BYTES);
	return len + FL_SHA256_BYTES;
}

int fl_wrap_kek(uint8_t kek[FL_AES256_KEY_BYTES], const struct fl_crypto_ops *c,
		const uint8_t secret[FL_ECDH_BYTES], const uint8_t epk[65],
		const uint8_t rpub[65])
{
	uint8_t info[2 * 65];

	memcpy(info, epk, 65);
	memcpy(info + 65, rpub, 65);
	return fl_hkdf_sha256(c, (const uint8_t *)FL_WRAP_SALT,
			      sizeof(FL_WRAP_SALT) - 1, secret, FL_ECDH_BYTES,
			      info, sizeof(info), kek, FL_AES256_KEY_BYTES);
}

int fl_wrap_kid(uint8_t kid[FL_WRAP_KID_BYTES], const struct fl_crypto_ops *c,
		const uint8_t pub[65])
{
	uint8_t d[FL_SHA256_BYTES];
	int rc;

	if (kid == NULL || c == NULL || pub == NULL)
		return FL_EINVAL;
	rc = fl_sha256(c, pub, 65, d);
	if (rc == 0)
		memcpy(kid, d, FL_WRAP_KID_BYTES);
	return rc;
}

int fl_wrap_open(uint8_t key[FL_AES256_KEY_BYTES],
		 const struct fl_crypto_ops *c, const struct fl_wrap_key *keys,
		 unsigned n, const uint8_t blob[FL_WRAP_BYTES],
		 const uint8_t manifest_sha256[FL_SHA256_BYTES])
{
	const struct fl_wrap_key *k = NULL;
	uint8_t secret[FL_ECDH_BYTES];
	uint8_t kek[FL_AES256_KEY_BYTES];
	uint8_t aad[FL_WRAP_AAD_MAX];
	uint8_t iv[FL_GCM_IV_BYTES];
	size_t aad_len;
	int rc;

	if (key == NULL || c == NULL || (keys == NULL && n > 0) ||
	    blob == NULL || manifest_sha256 == NULL)
		return FL_EINVAL;
	memset(key, 0, FL_AES256_KEY_BYTES);
	if (c->p256_ecdh == NULL || c->gcm_open == NULL)
		return FL_ENOTSUP;
	if (blob[0] != FL_WRAP_FORMAT)
		return FL_ENOTSUP;
	for (unsigned i = 0; i < n && k == NULL; i++)
		if (memcmp(keys[i].kid, blob + W_KID, FL_WRAP_KID_BYTES) == 0)
			k = &keys[i];
	if (k == NULL)
		return FL_ENOENT;
	aad_len = fl_wrap_aad(aad, k->kid, k->name, manifest_sha256);
	if (aad_len == 0)
		return FL_EINVAL;
	memset(iv, 0, sizeof(iv));
	rc = c->p256_ecdh(k->priv, blob + W_EPK, secret);
	if (rc == FL_EINVAL)
		rc = FL_EVERIFY; /* an ephemeral point off the curve */
	if (rc == 0)
		rc = fl_wrap_kek(kek, c, secret, blob + W_EPK, k->pub);
	if (rc == 0) {
		memcpy(key, blob + W_KEY, FL_AES256_KEY_BYTES);
		rc = c->gcm_open(kek, iv, aad, aad_len, key,
				 FL_AES256_KEY_BYTES, blob + W_TAG);
	}
	memset(secret, 0, sizeof(secret));
	memset(kek, 0, sizeof(kek));
	if (rc != 0)
		memset(key, 0, FL_AES256_KEY_BYTES);
	return rc;
}
