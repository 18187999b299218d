/*
 * seal.h -- encrypted images: the container format (a header and chunks,
 * each compressed on its own and sealed with AES-256-GCM), the content key
 * wrapped for one device or group (ECDH-ES on P-256, HKDF-SHA256,
 * AES-256-GCM), and the decompression port. Both formats are pinned in
 * docs/formats.md ("Encrypted image", "Wrapped content key").
 *
 * This is the portable half, what a device needs: the header's rules, the
 * nonce and additional data of each chunk, and the unwrap of a content key
 * through the crypto port. Making containers and wrapping keys happens
 * only on a server or an operator's machine (fl/seal_openssl.h).
 */
#ifndef FL_SEAL_H
#define FL_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl/crypto.h"

/* ---- the container ---------------------------------------------------- */

#define FL_SEAL_MAGIC	     0x43454C46u /* "FLEC" read as LE32 */
#define FL_SEAL_FORMAT	     1
#define FL_SEAL_HEADER_BYTES 32
#define FL_SEAL_CHUNK_MIN    4096u	/* plaintext bytes of a chunk */
#define FL_SEAL_CHUNK_MAX    (1u << 20) /* (a multiple of 4096 between) */
#define FL_SEAL_LEN_BYTES    4		/* a record's length prefix */
/* The largest sealed payload of a chunk of c plaintext bytes: a zstd frame
 * of one chunk is never larger (ZSTD_COMPRESSBOUND(c) is below it). */
#define FL_SEAL_PAYLOAD_MAX(c) ((c) + (c) / 64u + 64u)
/* What a device buffers of one record: its payload and tag. */
#define FL_SEAL_BUF_BYTES(c) (FL_SEAL_PAYLOAD_MAX(c) + FL_GCM_TAG_BYTES)
/* A record's bytes beside its payload: length prefix and tag. */
#define FL_SEAL_RECORD_OVERHEAD (FL_SEAL_LEN_BYTES + FL_GCM_TAG_BYTES)
/* Additional data of a chunk: header, index, last flag, payload length. */
#define FL_SEAL_AAD_BYTES (FL_SEAL_HEADER_BYTES + 4 + 1 + 4)

enum fl_seal_zip {
	FL_SEAL_ZIP_NONE = 0, /* each payload is the chunk itself */
	FL_SEAL_ZIP_ZSTD = 1, /* each payload is one zstd frame */
};

struct fl_seal_header {
	uint8_t zip;	      /* enum fl_seal_zip */
	uint32_t chunk_bytes; /* plaintext bytes of every chunk but the last */
	uint32_t plain_len;   /* the image's bytes, >= 1 */
	uint32_t chunks;      /* ceil(plain_len / chunk_bytes) */
	uint8_t nonce[FL_GCM_IV_BYTES]; /* random, per container */
};

/* Reads and checks a header (magic, format, zip, reserved bytes zero,
 * chunk size a multiple of 4096 in [FL_SEAL_CHUNK_MIN, FL_SEAL_CHUNK_MAX],
 * plain_len >= 1, chunks consistent). Returns 0, FL_ECORRUPT (not a
 * container: magic or format), FL_EINVAL (a field breaks its rule). */
int fl_seal_header_decode(struct fl_seal_header *out,
			  const uint8_t in[FL_SEAL_HEADER_BYTES]);

/* Writes a header; FL_EINVAL if h breaks a rule above. */
int fl_seal_header_encode(uint8_t out[FL_SEAL_HEADER_BYTES],
			  const struct fl_seal_header *h);

/* Plaintext bytes of chunk index (the last one may be shorter). */
uint32_t fl_seal_chunk_plain(const struct fl_seal_header *h, uint32_t index);

/* The nonce of chunk index: the header's nonce with LE32(index) XORed into
 * its last four bytes. */
void fl_seal_nonce(uint8_t out[FL_GCM_IV_BYTES], const struct fl_seal_header *h,
		   uint32_t index);

/* The additional data of chunk index: the header's 32 bytes, LE32 index,
 * one byte 1 for the last chunk else 0, LE32 payload length. */
void fl_seal_aad(uint8_t out[FL_SEAL_AAD_BYTES],
		 const uint8_t hdr[FL_SEAL_HEADER_BYTES], uint32_t index,
		 bool is_last, uint32_t payload_len);

/* ---- the decompression port ------------------------------------------- */

/*
 * frame: decompresses exactly one whole compressed frame src[0, src_len)
 * into dst[0, dst_cap) and sets *out_len. A frame whose window or content
 * would exceed dst_cap, trailing bytes, or anything malformed: FL_ECORRUPT.
 * Must not allocate per call (a port sets up its context once). Returns 0,
 * FL_ECORRUPT, FL_EINVAL.
 */
struct fl_unzip_ops {
	unsigned version; /* FL_UNZIP_OPS_VERSION */
	const char *name; /* "zstd" */
	int (*frame)(void *ctx, const uint8_t *src, size_t src_len,
		     uint8_t *dst, size_t dst_cap, size_t *out_len);
};

#define FL_UNZIP_OPS_VERSION 1u

struct fl_unzip {
	const struct fl_unzip_ops *ops; /* NULL: no decompression */
	void *ctx;
};

/* ---- the wrapped content key ----------------------------------------- */

#define FL_WRAP_FORMAT	  1
#define FL_WRAP_KID_BYTES 8   /* SHA-256(recipient point)[0..8) */
#define FL_WRAP_BYTES	  122 /* format, kid, epk, key, tag */
#define FL_WRAP_NAME_MAX  64  /* recipient: device id or group, NUL incl. */
#define FL_WRAP_SALT	  "fleet key wrap 1"

/* A recipient's key: a device's own (name = its device id) or a group's
 * (name = the group). */
struct fl_wrap_key {
	char name[FL_WRAP_NAME_MAX];
	uint8_t kid[FL_WRAP_KID_BYTES];
	uint8_t pub[65];
	uint8_t priv[FL_P256_PRIV_BYTES];
};

/* The additional data of a wrap: format, kid, name length, name, and the
 * SHA-256 of the manifest body the key travels with. Returns its length
 * (at most FL_WRAP_AAD_MAX), or 0 if name is empty or too long. */
#define FL_WRAP_AAD_MAX (1 + FL_WRAP_KID_BYTES + 1 + 63 + FL_SHA256_BYTES)
size_t fl_wrap_aad(uint8_t out[FL_WRAP_AAD_MAX],
		   const uint8_t kid[FL_WRAP_KID_BYTES], const char *name,
		   const uint8_t manifest_sha256[FL_SHA256_BYTES]);

/* The wrapping key: HKDF-SHA256(salt FL_WRAP_SALT, ikm the ECDH secret,
 * info epk || recipient point), 32 bytes. Returns 0 or the port's error. */
int fl_wrap_kek(uint8_t kek[FL_AES256_KEY_BYTES], const struct fl_crypto_ops *c,
		const uint8_t secret[FL_ECDH_BYTES], const uint8_t epk[65],
		const uint8_t rpub[65]);

/*
 * Unwraps blob (FL_WRAP_BYTES) for the manifest whose body hashes to
 * manifest_sha256, with the one of keys[0, n) whose kid it names, into
 * key. Returns 0; FL_ENOTSUP (another format); FL_ENOENT (no key with that
 * kid: wrapped for another device or group); FL_EVERIFY (it does not open:
 * tampered, bound to another name or manifest); FL_EINVAL; FL_ECRYPTO or
 * another port error. key is zeroed on failure.
 */
int fl_wrap_open(uint8_t key[FL_AES256_KEY_BYTES],
		 const struct fl_crypto_ops *c, const struct fl_wrap_key *keys,
		 unsigned n, const uint8_t blob[FL_WRAP_BYTES],
		 const uint8_t manifest_sha256[FL_SHA256_BYTES]);

/* kid of a recipient point: SHA-256(pub)[0..8). */
int fl_wrap_kid(uint8_t kid[FL_WRAP_KID_BYTES], const struct fl_crypto_ops *c,
		const uint8_t pub[65]);

#endif
