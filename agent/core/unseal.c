/*
 * unseal.c -- container bytes in, authenticated chunks of the image out
 * (unseal.h).
 *
 * Method: the 32-byte header is gathered first and checked against what
 * the signed manifest says (compression, chunk size, image length); then
 * each record is gathered whole into the record buffer: its 4-byte length
 * (bounded by the chunk size and by what is left of the container, before
 * a byte of payload is kept), its payload and its tag. The payload is
 * opened in place with the chunk's nonce and additional data; only when
 * the tag matches is it decompressed (into the plaintext buffer) or used
 * as it is, checked to be exactly the chunk's length, and handed to the
 * sink. A chunk that fails is wiped by the port and never reaches the
 * sink, so nothing unauthenticated is ever written to flash. The last
 * chunk is opened with the last flag set, and the container must end with
 * it: a truncated image cannot be completed with a chunk of the middle.
 */
#include "fl/unseal.h"

#include <string.h>

#include "fl/bytes.h"
#include "fl/err.h"

void fl_unseal_end(struct fl_unseal *u)
{
	if (u == NULL)
		return;
	memset(u->key, 0, sizeof(u->key));
	u->has_key = false;
}

int fl_unseal_begin(struct fl_unseal *u, const struct fl_crypto_ops *c,
		    const struct fl_unzip *unzip,
		    const struct fl_unseal_expect *want,
		    const uint8_t key[FL_AES256_KEY_BYTES], uint8_t *rec,
		    uint32_t rec_cap, uint8_t *plain, uint32_t plain_cap)
{
	if (u == NULL || c == NULL || want == NULL || key == NULL)
		return FL_EINVAL;
	memset(u, 0, sizeof(*u));
	if (c->gcm_open == NULL)
		return FL_ENOTSUP;
	if (want->zip == FL_SEAL_ZIP_ZSTD &&
	    (unzip == NULL || unzip->ops == NULL))
		return FL_ENOTSUP;
	if (want->zip != FL_SEAL_ZIP_NONE && want->zip != FL_SEAL_ZIP_ZSTD)
		return FL_ENOTSUP;
	if (want->chunk_bytes < FL_SEAL_CHUNK_MIN ||
	    want->chunk_bytes > FL_SEAL_CHUNK_MAX)
		return FL_EINVAL;
	if (rec == NULL || rec_cap < FL_SEAL_BUF_BYTES(want->chunk_bytes) ||
	    (want->zip == FL_SEAL_ZIP_ZSTD &&
	     (plain == NULL || plain_cap < want->chunk_bytes)))
		return FL_ENOMEM;
	u->c = c;
	if (unzip != NULL)
		u->unzip = *unzip;
	u->want = *want;
	u->rec = rec;
	u->rec_cap = rec_cap;
	u->plain = plain;
	u->plain_cap = plain_cap;
	memcpy(u->key, key, sizeof(u->key));
	u->has_key = true;
	return 0;
}

static int take_header(struct fl_unseal *u)
{
	if (fl_seal_header_decode(&u->h, u->hdr) != 0 ||
	    u->h.zip != u->want.zip ||
	    u->h.chunk_bytes != u->want.chunk_bytes ||
	    u->h.plain_len != u->want.plain_len)
		return FL_ECORRUPT;
	/* The smallest container of this many chunks must fit. */
	if ((uint64_t)u->h.chunks * (FL_SEAL_RECORD_OVERHEAD + 1) >
	    (uint64_t)u->want.enc_len - FL_SEAL_HEADER_BYTES)
		return FL_ECORRUPT;
	u->has_hdr = true;
	return 0;
}

int fl_unseal_seek(struct fl_unseal *u, const uint8_t hdr[FL_SEAL_HEADER_BYTES],
		   uint32_t index, uint32_t in_off)
{
	int rc;

	if (u == NULL || hdr == NULL || !u->has_key)
		return FL_ESTATE;
	memcpy(u->hdr, hdr, FL_SEAL_HEADER_BYTES);
	u->has_hdr = false;
	rc = take_header(u);
	if (rc != 0)
		return rc;
	if (index > u->h.chunks || in_off < FL_SEAL_HEADER_BYTES ||
	    in_off > u->want.enc_len ||
	    (index == u->h.chunks) != (in_off == u->want.enc_len))
		return FL_ECORRUPT;
	u->index = index;
	u->in_off = in_off;
	u->fill = 0;
	u->rec_len = 0;
	return 0;
}

bool fl_unseal_is_done(const struct fl_unseal *u)
{
	return u != NULL && u->has_hdr && u->index == u->h.chunks &&
	       u->fill == 0 && u->in_off == u->want.enc_len;
}

bool fl_unseal_at_boundary(const struct fl_unseal *u)
{
	return u != NULL && u->has_hdr && u->fill == 0;
}

/* The record's length prefix is in: check it before keeping a byte. */
static int take_length(struct fl_unseal *u)
{
	uint32_t n = fl_get_le32(u->len_buf);
	uint32_t plain = fl_seal_chunk_plain(&u->h, u->index);
	uint64_t end;

	if (u->index >= u->h.chunks || n == 0 ||
	    n > FL_SEAL_PAYLOAD_MAX(u->h.chunk_bytes) ||
	    (u->h.zip == FL_SEAL_ZIP_NONE && n != plain))
		return FL_ECORRUPT;
	/* in_off already counts the prefix. */
	end = (uint64_t)u->in_off + n + FL_GCM_TAG_BYTES;
	if (end > u->want.enc_len)
		return FL_ECORRUPT;
	u->rec_len = n;
	return 0;
}

/* The whole record is in: open, decompress, hand over. */
static int open_record(struct fl_unseal *u, fl_unseal_sink_fn sink,
		       void *sink_ctx)
{
	uint8_t iv[FL_GCM_IV_BYTES];
	uint8_t aad[FL_SEAL_AAD_BYTES];
	uint32_t plain = fl_seal_chunk_plain(&u->h, u->index);
	bool is_last = u->index + 1 == u->h.chunks;
	const uint8_t *out = u->rec;
	size_t out_len = u->rec_len;
	int rc;

	fl_seal_nonce(iv, &u->h, u->index);
	fl_seal_aad(aad, u->hdr, u->index, is_last, u->rec_len);
	rc = u->c->gcm_open(u->key, iv, aad, sizeof(aad), u->rec, u->rec_len,
			    u->rec + u->rec_len);
	if (rc != 0)
		return rc;
	if (is_last && u->in_off != u->want.enc_len)
		return FL_ECORRUPT; /* bytes after the last chunk */
	if (u->h.zip == FL_SEAL_ZIP_ZSTD) {
		rc = u->unzip.ops->frame(u->unzip.ctx, u->rec, u->rec_len,
					 u->plain, plain, &out_len);
		memset(u->rec, 0, u->rec_len);
		if (rc != 0)
			return FL_ECORRUPT;
		out = u->plain;
	}
	if (out_len != plain)
		return FL_ECORRUPT;
	rc = sink(sink_ctx, u->index, out, out_len);
	if (rc != 0)
		return rc;
	u->index++;
	u->fill = 0;
	u->rec_len = 0;
	return 0;
}

int fl_unseal_feed(struct fl_unseal *u, const void *data, size_t len,
		   fl_unseal_sink_fn sink, void *sink_ctx)
{
	const uint8_t *p = data;
	int rc;

	if (u == NULL || sink == NULL || (data == NULL && len > 0))
		return FL_EINVAL;
	if (!u->has_key)
		return FL_ESTATE;
	if (len > u->want.enc_len - u->in_off)
		return FL_ETOOBIG;
	while (len > 0) {
		uint32_t n;

		if (!u->has_hdr) {
			n = FL_SEAL_HEADER_BYTES - u->in_off;
			if (n > len)
				n = (uint32_t)len;
			memcpy(u->hdr + u->in_off, p, n);
			u->in_off += n;
			p += n;
			len -= n;
			if (u->in_off == FL_SEAL_HEADER_BYTES) {
				rc = take_header(u);
				if (rc != 0)
					return rc;
			}
			continue;
		}
		if (u->fill < FL_SEAL_LEN_BYTES) {
			n = FL_SEAL_LEN_BYTES - u->fill;
			if (n > len)
				n = (uint32_t)len;
			memcpy(u->len_buf + u->fill, p, n);
			u->fill += n;
			u->in_off += n;
			p += n;
			len -= n;
			if (u->fill == FL_SEAL_LEN_BYTES) {
				rc = take_length(u);
				if (rc != 0)
					return rc;
			}
			continue;
		}
		n = FL_SEAL_LEN_BYTES + u->rec_len + FL_GCM_TAG_BYTES - u->fill;
		if (n > len)
			n = (uint32_t)len;
		memcpy(u->rec + (u->fill - FL_SEAL_LEN_BYTES), p, n);
		u->fill += n;
		u->in_off += n;
		p += n;
		len -= n;
		if (u->fill ==
		    FL_SEAL_LEN_BYTES + u->rec_len + FL_GCM_TAG_BYTES) {
			rc = open_record(u, sink, sink_ctx);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}
