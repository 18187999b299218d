/*
 * unseal.h -- the streaming stage between the download and the installer
 * for an encrypted image (docs/formats.md, "Encrypted image"): container
 * bytes in, in any pieces; each chunk out, whole, only once its GCM tag
 * checked, decompressed through the decompression port when the container
 * is compressed.
 *
 * Memory: two caller-owned buffers, borrowed: one record (payload and tag,
 * FL_SEAL_BUF_BYTES(chunk)) and, for a compressed container, one chunk of
 * plaintext. Nothing is allocated here; the crypto port's gcm_open may
 * allocate a key schedule for the length of a call.
 */
#ifndef FL_UNSEAL_H
#define FL_UNSEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl/seal.h"

/* What the signed manifest says of the container: the header must agree. */
struct fl_unseal_expect {
	uint8_t zip;
	uint32_t chunk_bytes;
	uint32_t plain_len; /* the image's length */
	uint32_t enc_len;   /* the container's length */
};

struct fl_unseal {
	const struct fl_crypto_ops *c;
	struct fl_unzip unzip;
	struct fl_unseal_expect want;
	uint8_t *rec; /* borrowed: FL_SEAL_BUF_BYTES(chunk_bytes) */
	uint32_t rec_cap;
	uint8_t *plain; /* borrowed: chunk_bytes, compressed containers */
	uint32_t plain_cap;
	bool has_key;
	uint8_t key[FL_AES256_KEY_BYTES];
	bool has_hdr;
	uint8_t hdr[FL_SEAL_HEADER_BYTES];
	struct fl_seal_header h;
	uint32_t in_off;  /* container bytes taken */
	uint32_t index;	  /* the chunk being received */
	uint32_t rec_len; /* its payload length, once its prefix is in */
	uint32_t fill;	  /* bytes of the record (prefix, payload, tag) in */
	uint8_t len_buf[FL_SEAL_LEN_BYTES];
};

/* Called with each authenticated chunk of plaintext, borrowed for the
 * call: chunk index, at plaintext offset index * chunk_bytes. Returns 0 or
 * an error, which fl_unseal_feed returns unchanged. */
typedef int (*fl_unseal_sink_fn)(void *ctx, uint32_t index, const uint8_t *data,
				 size_t len);

/*
 * Starts at container offset 0 with the content key. Returns 0;
 * FL_ENOTSUP (the port cannot decrypt, or the container is compressed and
 * unzip has no ops); FL_ENOMEM (the buffers are too small for the chunk
 * size); FL_EINVAL. fl_unseal_end() wipes the key.
 */
int fl_unseal_begin(struct fl_unseal *u, const struct fl_crypto_ops *c,
		    const struct fl_unzip *unzip,
		    const struct fl_unseal_expect *want,
		    const uint8_t key[FL_AES256_KEY_BYTES], uint8_t *rec,
		    uint32_t rec_cap, uint8_t *plain, uint32_t plain_cap);

/* Goes on from a chunk boundary: chunk index starts at container offset
 * in_off, with the header already taken in (hdr, as saved). Returns 0 or
 * FL_ECORRUPT (the header does not check or agree, or the offsets do not
 * fit in the container). */
int fl_unseal_seek(struct fl_unseal *u, const uint8_t hdr[FL_SEAL_HEADER_BYTES],
		   uint32_t index, uint32_t in_off);

/*
 * Takes the next container bytes. Returns 0; FL_ETOOBIG (past the
 * container's length: nothing taken); FL_ECORRUPT (the header is not a
 * container or disagrees with the manifest, a record length out of range,
 * a frame that does not decompress to its chunk); FL_EVERIFY (a chunk's
 * tag does not match: tampered, moved, another key); FL_ESTATE (not
 * begun); or the sink's error. After an error nothing more may be fed.
 */
int fl_unseal_feed(struct fl_unseal *u, const void *data, size_t len,
		   fl_unseal_sink_fn sink, void *sink_ctx);

/* Every chunk in, and the container ended exactly with the last one. */
bool fl_unseal_is_done(const struct fl_unseal *u);

/* At a chunk boundary (no record partly in): where a resume may start. */
bool fl_unseal_at_boundary(const struct fl_unseal *u);

/* Wipes the key; accepts a zeroed or ended struct. */
void fl_unseal_end(struct fl_unseal *u);

#endif
