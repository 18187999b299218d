/*
 * seal_openssl.h -- making encrypted images and wrapping their keys, on
 * OpenSSL 3 and libzstd: what fleetd and fleet-manifest do, never a device
 * (devices open them through fl/seal.h and the crypto port).
 *
 *   packer   a plain image streamed in, the container (docs/formats.md,
 *            "Encrypted image") streamed out through a write callback, one
 *            chunk in memory at a time: compressed (zstd) or stored, then
 *            sealed with AES-256-GCM; its length and SHA-256 and the plain
 *            image's are counted on the way
 *   wrap     a content key wrapped for one recipient's P-256 key, bound to
 *            its name (device id or group) and to a manifest body
 *   keys     wrap keys read from PEM (a device's or group's private key,
 *            or a recipient's public key)
 *
 * Errors are fl_err codes with a one-line reason in a caller-owned
 * struct fl_seal_diag (may be NULL).
 */
#ifndef FL_SEAL_OPENSSL_H
#define FL_SEAL_OPENSSL_H

#include <stddef.h>
#include <stdint.h>

#include "fl/seal.h"

struct fl_seal_diag {
	char msg[256];
};

/* What a container holds, for the manifest (body format 2, "enc"). */
struct fl_seal_info {
	uint8_t zip;	      /* enum fl_seal_zip */
	uint32_t chunk_bytes; /* plaintext bytes per chunk */
	uint32_t plain_len;
	uint8_t plain_sha256[FL_SHA256_BYTES];
	uint32_t enc_len; /* the container's bytes */
	uint8_t enc_sha256[FL_SHA256_BYTES];
};

#define FL_SEAL_LEVEL_DEFAULT 9 /* zstd level */

/* Returns 0 or the write's error; data is borrowed for the call. */
typedef int (*fl_seal_write_fn)(void *ctx, const void *data, size_t len);

struct fl_seal_packer;

/*
 * Starts a container of plain_len bytes (known ahead: the header binds it)
 * with a fresh random nonce base, content key `key`, zip
 * (FL_SEAL_ZIP_NONE or FL_SEAL_ZIP_ZSTD, at zstd level `level`) and chunks
 * of chunk_bytes. The header is written through w at once. Returns 0,
 * FL_EINVAL (a bound), FL_ENOMEM, FL_ECRYPTO, or w's error.
 */
int fl_seal_packer_new(struct fl_seal_packer **out,
		       const uint8_t key[FL_AES256_KEY_BYTES], uint8_t zip,
		       int level, uint32_t chunk_bytes, uint32_t plain_len,
		       fl_seal_write_fn w, void *wctx,
		       struct fl_seal_diag *diag);

/* Feeds the next bytes of the image; whole chunks are sealed and written.
 * Returns 0, FL_ETOOBIG (more than plain_len), FL_ECRYPTO, FL_EIO (zstd),
 * or w's error. */
int fl_seal_packer_feed(struct fl_seal_packer *p, const void *data, size_t len);

/* Seals the last chunk and fills *info. Returns 0, FL_ESTATE (fewer bytes
 * than plain_len), or as feed. */
int fl_seal_packer_finish(struct fl_seal_packer *p, struct fl_seal_info *info);

/* Accepts NULL; wipes the key and buffers. */
void fl_seal_packer_free(struct fl_seal_packer *p);

/* The whole file at in_path sealed into out_path (written to a temporary
 * file beside it, synced and renamed). Returns 0, FL_ENOENT, FL_EIO,
 * FL_ETOOBIG (over 4 GiB - 1), or as the packer. */
int fl_seal_pack_file(const char *in_path, const char *out_path,
		      const uint8_t key[FL_AES256_KEY_BYTES], uint8_t zip,
		      int level, uint32_t chunk_bytes,
		      struct fl_seal_info *info, struct fl_seal_diag *diag);

/* Fills buf with n cryptographically random bytes. Returns 0 or
 * FL_ECRYPTO. */
int fl_seal_random(void *buf, size_t n);

/* Wraps key for the recipient point rpub named name (device id or group)
 * and the manifest body whose SHA-256 is manifest_sha256: a fresh
 * ephemeral P-256 key each time. Returns 0, FL_EINVAL, FL_ECRYPTO. */
int fl_seal_wrap(uint8_t blob[FL_WRAP_BYTES],
		 const uint8_t key[FL_AES256_KEY_BYTES], const uint8_t rpub[65],
		 const char *name,
		 const uint8_t manifest_sha256[FL_SHA256_BYTES],
		 struct fl_seal_diag *diag);

/* Reads a P-256 private key (PEM) at path as the wrap key of name.
 * Returns 0, FL_ENOENT, FL_EIO, FL_EINVAL ("PATH: not a P-256 private
 * key"), FL_ECRYPTO. */
int fl_seal_wrap_key_load(struct fl_wrap_key *out, const char *path,
			  const char *name, struct fl_seal_diag *diag);

/* Reads a recipient's public point from path: a PEM public or private
 * key, or 130 hex digits. Returns as above. */
int fl_seal_wrap_pub_load(uint8_t pub[65], const char *path,
			  struct fl_seal_diag *diag);

/* Makes a new P-256 wrap key and writes its private key (PKCS#8 PEM,
 * mode 0600, never replacing a file) to path. Returns 0, FL_EIO (with
 * "PATH: File exists" when it exists), FL_ECRYPTO. *pub may be NULL. */
int fl_seal_wrap_key_create(const char *path, uint8_t pub[65],
			    struct fl_seal_diag *diag);

#endif
