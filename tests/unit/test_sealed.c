/*
 * test_sealed.c -- encrypted images: the crypto port's AES-256-GCM, ECDH
 * and the HKDF over it on both ports against the same published vectors;
 * containers made by the packer (fl/seal_openssl.h) opened by the unseal
 * stage (fl/unseal.h) through both ports, with and without zstd; the key
 * wrap; and the attacks, first on the stage alone (tampered, reordered,
 * dropped, truncated or extra chunks, another key, another header) and then
 * on a device through agent/core (tests/support/agent_fixture.h): each is
 * refused with its specific result and reason and nothing becomes
 * bootable; a genuine encrypted update commits, also through power cuts
 * at every flash operation of its download (resumed from a chunk
 * checkpoint); a job that replaces an encrypted one stopped inside a
 * chunk, by any path, inherits nothing of its unseal stage, while the same
 * job resumes from it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_fixture.h"
#include "fl/bytes.h"
#include "fl/crypto_mbedtls.h"
#include "fl/seal_openssl.h"
#include "fl/unzip_zstd.h"

static const struct fl_crypto_ops *const ports[] = {&fl_crypto_openssl,
						    &fl_crypto_mbedtls};

static void unhex(uint8_t *out, const char *hex)
{
	size_t n = strlen(hex) / 2;

	assert_int_equal(fl_hex_decode(out, n, hex, 2 * n), 0);
}

/* ---- vectors, both ports ------------------------------------------------ */

/* The GCM specification's test case 16 (AES-256, 60 bytes, 20 of AAD). */
static void test_sealed__gcm_vector_both_ports(void **state)
{
	uint8_t key[32], iv[12], aad[20], pt[60], ct[60], tag[16], buf[60];

	(void)state;
	unhex(key, "feffe9928665731c6d6a8f9467308308"
		   "feffe9928665731c6d6a8f9467308308");
	unhex(iv, "cafebabefacedbaddecaf888");
	unhex(aad, "feedfacedeadbeeffeedfacedeadbeefabaddad2");
	unhex(pt, "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d"
		  "8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657"
		  "ba637b39");
	unhex(ct, "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd"
		  "2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0a"
		  "bcc9f662");
	unhex(tag, "76fc6ece0f4e1768cddf8853bb2d551b");
	for (unsigned p = 0; p < 2; p++) {
		memcpy(buf, ct, sizeof(buf));
		assert_int_equal(ports[p]->gcm_open(key, iv, aad, sizeof(aad),
						    buf, sizeof(buf), tag),
				 0);
		assert_memory_equal(buf, pt, sizeof(pt));
		/* One bit of the tag, the AAD or the text: refused, wiped. */
		memcpy(buf, ct, sizeof(buf));
		tag[15] ^= 1;
		assert_int_equal(ports[p]->gcm_open(key, iv, aad, sizeof(aad),
						    buf, sizeof(buf), tag),
				 FL_EVERIFY);
		tag[15] ^= 1;
		for (unsigned i = 0; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0);
		memcpy(buf, ct, sizeof(buf));
		aad[0] ^= 0x80;
		assert_int_equal(ports[p]->gcm_open(key, iv, aad, sizeof(aad),
						    buf, sizeof(buf), tag),
				 FL_EVERIFY);
		aad[0] ^= 0x80;
		memcpy(buf, ct, sizeof(buf));
		buf[59] ^= 4;
		assert_int_equal(ports[p]->gcm_open(key, iv, aad, sizeof(aad),
						    buf, sizeof(buf), tag),
				 FL_EVERIFY);
	}
}

/* RFC 5903, 8.1: ECDH on P-256. */
static void test_sealed__ecdh_vector_both_ports(void **state)
{
	uint8_t priv[32], peer[65], want[32], out[32];

	(void)state;
	unhex(priv, "c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57"
		    "862d1433");
	peer[0] = 0x04;
	unhex(peer + 1, "d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736f"
			"c7554494bf63"
			"56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e7"
			"4f33039872ab");
	unhex(want, "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d0"
		    "4b9442de");
	for (unsigned p = 0; p < 2; p++) {
		memset(out, 0xAA, sizeof(out));
		assert_int_equal(ports[p]->p256_ecdh(priv, peer, out), 0);
		assert_memory_equal(out, want, sizeof(want));
		/* A point off the curve, a zero scalar: refused. */
		peer[64] ^= 1;
		assert_int_equal(ports[p]->p256_ecdh(priv, peer, out),
				 FL_EINVAL);
		peer[64] ^= 1;
		memset(out, 0, sizeof(out));
		assert_int_equal(ports[p]->p256_ecdh(out, peer, out),
				 FL_EINVAL);
	}
}

/* RFC 5869, test case 1, through each port's SHA-256. */
static void test_sealed__hkdf_vector_both_ports(void **state)
{
	uint8_t ikm[22], salt[13], info[10], want[42], out[42];

	(void)state;
	memset(ikm, 0x0b, sizeof(ikm));
	for (unsigned i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)i;
	for (unsigned i = 0; i < sizeof(info); i++)
		info[i] = (uint8_t)(0xf0 + i);
	unhex(want, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56"
		    "ecc4c5bf34007208d5b887185865");
	for (unsigned p = 0; p < 2; p++) {
		assert_int_equal(fl_hkdf_sha256(ports[p], salt, sizeof(salt),
						ikm, sizeof(ikm), info,
						sizeof(info), out, sizeof(out)),
				 0);
		assert_memory_equal(out, want, sizeof(want));
	}
}

/* ---- containers -----------------------------------------------------------
 */

struct membuf {
	uint8_t *p;
	size_t len, cap;
};

static int mem_write(void *ctx, const void *data, size_t len)
{
	struct membuf *m = ctx;

	if (m->len + len > m->cap) {
		size_t cap = (m->len + len) * 2;
		uint8_t *p = realloc(m->p, cap);

		if (p == NULL)
			return FL_ENOMEM;
		m->p = p;
		m->cap = cap;
	}
	memcpy(m->p + m->len, data, len);
	m->len += len;
	return 0;
}

/* An image that compresses (repeating text) with a random tail. */
static uint8_t *make_image(uint32_t len)
{
	uint8_t *img = malloc(len);
	uint32_t x = 12345;

	for (uint32_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		img[i] = i < len / 2 ? (uint8_t)("firmware "[i % 9])
				     : (uint8_t)(x >> 16);
	}
	return img;
}

static void pack(struct membuf *out, struct fl_seal_info *info,
		 const uint8_t *img, uint32_t len, const uint8_t key[32],
		 uint8_t zip, uint32_t chunk)
{
	struct fl_seal_packer *p = NULL;
	struct fl_seal_diag d;

	memset(out, 0, sizeof(*out));
	assert_int_equal(fl_seal_packer_new(&p, key, zip, 3, chunk, len,
					    mem_write, out, &d),
			 0);
	/* In odd pieces, as an upload arrives. */
	for (uint32_t off = 0; off < len;) {
		uint32_t n = len - off < 7777 ? len - off : 7777;

		assert_int_equal(fl_seal_packer_feed(p, img + off, n), 0);
		off += n;
	}
	assert_int_equal(fl_seal_packer_finish(p, info), 0);
	fl_seal_packer_free(p);
	assert_int_equal(info->enc_len, out->len);
}

struct collect {
	uint8_t *out;
	uint32_t len;
	uint32_t next; /* the chunk expected */
	unsigned calls;
};

static int collect(void *ctx, uint32_t index, const uint8_t *data, size_t len)
{
	struct collect *c = ctx;

	assert_int_equal(index, c->next);
	memcpy(c->out + c->len, data, len);
	c->len += (uint32_t)len;
	c->next++;
	c->calls++;
	return 0;
}

struct stage {
	struct fl_unseal u;
	struct fl_unzip_zstd *z;
	struct fl_unzip unzip;
	uint8_t *rec, *plain;
	struct collect col;
};

static void stage_begin(struct stage *s, const struct fl_crypto_ops *c,
			const struct fl_seal_info *info, const uint8_t key[32])
{
	struct fl_unseal_expect want = {info->zip, info->chunk_bytes,
					info->plain_len, info->enc_len};

	memset(s, 0, sizeof(*s));
	assert_int_equal(fl_unzip_zstd_new(&s->z), 0);
	s->unzip = fl_unzip_zstd_port(s->z);
	s->rec = malloc(FL_SEAL_BUF_BYTES(info->chunk_bytes));
	s->plain = malloc(info->chunk_bytes);
	s->col.out = calloc(1, info->plain_len);
	assert_int_equal(fl_unseal_begin(&s->u, c, &s->unzip, &want, key,
					 s->rec,
					 FL_SEAL_BUF_BYTES(info->chunk_bytes),
					 s->plain, info->chunk_bytes),
			 0);
}

static void stage_free(struct stage *s)
{
	fl_unseal_end(&s->u);
	fl_unzip_zstd_free(s->z);
	free(s->rec);
	free(s->plain);
	free(s->col.out);
}

/* Feeds c[0, len) in pieces of `piece`; returns the first error. */
static int feed(struct stage *s, const uint8_t *c, size_t len, size_t piece)
{
	for (size_t off = 0; off < len;) {
		size_t n = len - off < piece ? len - off : piece;
		int rc = fl_unseal_feed(&s->u, c + off, n, collect, &s->col);

		if (rc != 0)
			return rc;
		off += n;
	}
	return 0;
}

static void test_sealed__roundtrip_both_ports_both_zips(void **state)
{
	static const uint32_t lens[] = {1, 4096, 40000, 65536 + 17};
	static const size_t pieces[] = {1, 13, 4096, 1 << 20};
	uint8_t key[32];

	(void)state;
	assert_int_equal(fl_seal_random(key, sizeof(key)), 0);
	for (unsigned l = 0; l < 4; l++) {
		uint8_t *img = make_image(lens[l]);

		for (uint8_t zip = 0; zip < 2; zip++) {
			struct fl_seal_info info;
			struct membuf c;
			uint8_t d[32];

			pack(&c, &info, img, lens[l], key, zip, 8192);
			assert_int_equal(info.plain_len, lens[l]);
			assert_int_equal(
				fl_sha256(&fl_crypto_openssl, img, lens[l], d),
				0);
			assert_memory_equal(d, info.plain_sha256, 32);
			assert_int_equal(
				fl_sha256(&fl_crypto_openssl, c.p, c.len, d),
				0);
			assert_memory_equal(d, info.enc_sha256, 32);
			if (zip == FL_SEAL_ZIP_ZSTD && lens[l] > 4096)
				assert_true(c.len < lens[l]);
			for (unsigned p = 0; p < 2; p++) {
				for (unsigned k = 0; k < 4; k++) {
					struct stage s;

					stage_begin(&s, ports[p], &info, key);
					assert_int_equal(
						feed(&s, c.p, c.len, pieces[k]),
						0);
					assert_true(fl_unseal_is_done(&s.u));
					assert_int_equal(s.col.len, lens[l]);
					assert_memory_equal(s.col.out, img,
							    lens[l]);
					stage_free(&s);
				}
			}
			free(c.p);
		}
		free(img);
	}
}

/* Record boundaries of a container: offsets of records 0..n, and its
 * end. */
static unsigned records(const struct membuf *c, uint32_t *off, unsigned max)
{
	uint32_t at = FL_SEAL_HEADER_BYTES;
	unsigned n = 0;

	while (at < c->len && n < max) {
		off[n++] = at;
		at += FL_SEAL_RECORD_OVERHEAD + fl_get_le32(c->p + at);
	}
	off[n] = at;
	return n;
}

/* Each attack on the container alone: the stage refuses it and hands
 * over nothing of the chunk it is in. */
static void test_sealed__stage_refuses_every_attack(void **state)
{
	uint8_t key[32], other[32];
	uint8_t *img = make_image(5 * 8192 + 100);
	uint32_t len = 5 * 8192 + 100, off[16];
	struct fl_seal_info info;
	struct membuf c;
	unsigned n;

	(void)state;
	assert_int_equal(fl_seal_random(key, sizeof(key)), 0);
	assert_int_equal(fl_seal_random(other, sizeof(other)), 0);
	pack(&c, &info, img, len, key, FL_SEAL_ZIP_ZSTD, 8192);
	n = records(&c, off, 15);
	assert_int_equal(n, 6);
	for (unsigned p = 0; p < 2; p++) {
		struct stage s;
		uint8_t *t = malloc(c.len);
		struct fl_seal_info inf2 = info;
		uint32_t r2;

		/* A byte of chunk 2's payload: chunks 0 and 1 only. */
		memcpy(t, c.p, c.len);
		t[off[2] + 10] ^= 0x20;
		stage_begin(&s, ports[p], &info, key);
		assert_int_equal(feed(&s, t, c.len, 999), FL_EVERIFY);
		assert_int_equal(s.col.calls, 2);
		stage_free(&s);
		/* Its tag. */
		memcpy(t, c.p, c.len);
		t[off[3] - 1] ^= 1;
		stage_begin(&s, ports[p], &info, key);
		assert_int_equal(feed(&s, t, c.len, 999), FL_EVERIFY);
		assert_int_equal(s.col.calls, 2);
		stage_free(&s);
		/* Chunks 1 and 2 swapped (same length or not). */
		memcpy(t, c.p, off[1]);
		memcpy(t + off[1], c.p + off[2], off[3] - off[2]);
		r2 = off[1] + (off[3] - off[2]);
		memcpy(t + r2, c.p + off[1], off[2] - off[1]);
		memcpy(t + off[3], c.p + off[3], c.len - off[3]);
		stage_begin(&s, ports[p], &info, key);
		assert_int_equal(feed(&s, t, c.len, 4096), FL_EVERIFY);
		assert_int_equal(s.col.calls, 1);
		stage_free(&s);
		/* Chunk 3 dropped (and the length said to match): chunk 4
		 * does not open in its place. */
		memcpy(t, c.p, off[3]);
		memcpy(t + off[3], c.p + off[4], c.len - off[4]);
		inf2.enc_len = c.len - (off[4] - off[3]);
		stage_begin(&s, ports[p], &inf2, key);
		assert_int_equal(feed(&s, t, inf2.enc_len, 4096), FL_EVERIFY);
		assert_int_equal(s.col.calls, 3);
		stage_free(&s);
		/* Truncated after chunk 4: not done; the last chunk is missing
		 * and chunk 4 was not opened as the last one. */
		inf2.enc_len = off[5];
		stage_begin(&s, ports[p], &inf2, key);
		assert_int_equal(feed(&s, c.p, off[5], 4096), 0);
		assert_false(fl_unseal_is_done(&s.u));
		assert_int_equal(s.col.calls, 5);
		stage_free(&s);
		/* Chunk 4 (not the last) claimed as the end of the image: its
		 * AAD says not-last. Built as header + 0..3 + 4 with the
		 * header saying 5 chunks... the header binds the count, so a
		 * shorter image is another header: refused by the manifest's
		 * expectation first. */
		inf2 = info;
		inf2.plain_len = 5 * 8192;
		stage_begin(&s, ports[p], &inf2, key);
		assert_int_equal(feed(&s, c.p, c.len, 4096), FL_ECORRUPT);
		assert_int_equal(s.col.calls, 0);
		stage_free(&s);
		/* Bytes after the last chunk (the length lets them in). */
		inf2 = info;
		inf2.enc_len = c.len + 20;
		memcpy(t, c.p, c.len);
		stage_begin(&s, ports[p], &inf2, key);
		assert_int_equal(feed(&s, t, c.len, 4096), FL_ECORRUPT);
		stage_free(&s);
		/* Another content key: the first chunk fails. */
		stage_begin(&s, ports[p], &info, other);
		assert_int_equal(feed(&s, c.p, c.len, 4096), FL_EVERIFY);
		assert_int_equal(s.col.calls, 0);
		stage_free(&s);
		/* The header's nonce changed: every chunk's AAD and nonce. */
		memcpy(t, c.p, c.len);
		t[25] ^= 1;
		stage_begin(&s, ports[p], &info, key);
		assert_int_equal(feed(&s, t, c.len, 4096), FL_EVERIFY);
		assert_int_equal(s.col.calls, 0);
		stage_free(&s);
		/* A record length beyond the chunk's bound, or past the end:
		 * refused before a byte of it is kept. */
		memcpy(t, c.p, c.len);
		fl_put_le32(t + off[1], 1u << 24);
		stage_begin(&s, ports[p], &info, key);
		assert_int_equal(feed(&s, t, c.len, 4096), FL_ECORRUPT);
		stage_free(&s);
		/* More than the container: nothing taken. */
		stage_begin(&s, ports[p], &info, key);
		assert_int_equal(
			fl_unseal_feed(&s.u, c.p, c.len + 1, collect, &s.col),
			FL_ETOOBIG);
		assert_int_equal(s.u.in_off, 0);
		stage_free(&s);
		/* Not a container. */
		memcpy(t, c.p, c.len);
		t[0] ^= 1;
		stage_begin(&s, ports[p], &info, key);
		assert_int_equal(feed(&s, t, c.len, 4096), FL_ECORRUPT);
		stage_free(&s);
		free(t);
	}
	free(c.p);
	free(img);
}

/* A resume from a chunk boundary opens the rest. */
static void test_sealed__seek_resumes_at_a_chunk(void **state)
{
	uint8_t key[32];
	uint32_t len = 4 * 8192 + 1, off[8];
	uint8_t *img = make_image(len);
	struct fl_seal_info info;
	struct membuf c;
	struct stage s;

	(void)state;
	assert_int_equal(fl_seal_random(key, sizeof(key)), 0);
	pack(&c, &info, img, len, key, FL_SEAL_ZIP_ZSTD, 8192);
	records(&c, off, 7);
	stage_begin(&s, &fl_crypto_mbedtls, &info, key);
	assert_int_equal(fl_unseal_seek(&s.u, c.p, 2, off[2]), 0);
	s.col.next = 2;
	assert_int_equal(feed(&s, c.p + off[2], c.len - off[2], 333), 0);
	assert_true(fl_unseal_is_done(&s.u));
	assert_memory_equal(s.col.out, img + 2 * 8192, len - 2 * 8192);
	/* Offsets that do not fit: refused. */
	assert_int_equal(fl_unseal_seek(&s.u, c.p, 9, off[2]), FL_ECORRUPT);
	assert_int_equal(fl_unseal_seek(&s.u, c.p, 4, c.len), FL_ECORRUPT);
	stage_free(&s);
	free(c.p);
	free(img);
}

/* ---- the key wrap ---------------------------------------------------------
 */

struct wk {
	struct fl_wrap_key k;
	char path[64];
};

static void wrap_key_make(struct wk *w, const char *name)
{
	struct fl_seal_diag d;

	snprintf(w->path, sizeof(w->path), "wrap-%s-%d.pem", name,
		 (int)getpid());
	(void)unlink(w->path);
	assert_int_equal(fl_seal_wrap_key_create(w->path, NULL, &d), 0);
	assert_int_equal(fl_seal_wrap_key_load(&w->k, w->path, name, &d), 0);
	unlink(w->path);
}

static void
test_sealed__wrap_opens_only_for_its_device_and_manifest(void **state)
{
	struct wk dev, other, group;
	uint8_t key[32], out[32], man[32], man2[32];
	uint8_t blob[FL_WRAP_BYTES], t[FL_WRAP_BYTES];
	struct fl_wrap_key both[2];

	(void)state;
	wrap_key_make(&dev, "dev-0001");
	wrap_key_make(&other, "dev-0002");
	wrap_key_make(&group, "thermo");
	assert_int_equal(fl_seal_random(key, 32), 0);
	assert_int_equal(fl_seal_random(man, 32), 0);
	memcpy(man2, man, 32);
	man2[31] ^= 1;
	assert_int_equal(
		fl_seal_wrap(blob, key, dev.k.pub, "dev-0001", man, NULL), 0);
	for (unsigned p = 0; p < 2; p++) {
		assert_int_equal(
			fl_wrap_open(out, ports[p], &dev.k, 1, blob, man), 0);
		assert_memory_equal(out, key, 32);
		/* Another manifest: refused. */
		assert_int_equal(
			fl_wrap_open(out, ports[p], &dev.k, 1, blob, man2),
			FL_EVERIFY);
		/* Another device: no key of it. */
		assert_int_equal(
			fl_wrap_open(out, ports[p], &other.k, 1, blob, man),
			FL_ENOENT);
		/* The same key under another name (a device that copied
		 * dev-0001's key): refused, the name is bound. */
		{
			struct fl_wrap_key renamed = dev.k;

			strcpy(renamed.name, "dev-0002");
			assert_int_equal(fl_wrap_open(out, ports[p], &renamed,
						      1, blob, man),
					 FL_EVERIFY);
		}
		/* Any byte of the blob. */
		for (unsigned i = 9; i < FL_WRAP_BYTES; i += 7) {
			memcpy(t, blob, sizeof(t));
			t[i] ^= 0x10;
			assert_int_not_equal(
				fl_wrap_open(out, ports[p], &dev.k, 1, t, man),
				0);
			for (unsigned b = 0; b < 32; b++)
				assert_int_equal(out[b], 0);
		}
		memcpy(t, blob, sizeof(t));
		t[0] = 2;
		assert_int_equal(fl_wrap_open(out, ports[p], &dev.k, 1, t, man),
				 FL_ENOTSUP);
	}
	/* A group's wrap opens with the group's key among the device's. */
	assert_int_equal(
		fl_seal_wrap(blob, key, group.k.pub, "thermo", man, NULL), 0);
	both[0] = dev.k;
	both[1] = group.k;
	for (unsigned p = 0; p < 2; p++) {
		assert_int_equal(
			fl_wrap_open(out, ports[p], both, 2, blob, man), 0);
		assert_memory_equal(out, key, 32);
	}
}

/* ---- the command ------------------------------------------------------------
 */

/* The worst command with a wrapped key, in either envelope, still fits
 * FL_PROTO_MSG_MAX: a body of format 2 is at most 672 bytes, and a key
 * with a longer body is refused. */
static void test_sealed__worst_command_with_a_key_fits(void **state)
{
	static struct fl_cmd c, q;
	static char buf[FL_PROTO_MSG_MAX + 1];
	struct fl_proto_diag d;
	size_t n = 0;

	(void)state;
	for (uint8_t v = 1; v <= 2; v++) {
		memset(&c, 0, sizeof(c));
		c.type = FL_CMD_ROLLBACK;
		c.job = UINT32_MAX;
		c.issued = FL_PROTO_UINT_MAX - 1;
		c.expires = FL_PROTO_UINT_MAX;
		c.manifest.v = v;
		memset(c.manifest.kid, 0xa5, sizeof(c.manifest.kid));
		c.manifest.body_len = FL_MANIFEST_SEALED_MAX;
		for (unsigned i = 0; i < FL_MANIFEST_SEALED_MAX; i++)
			c.manifest.body[i] = (uint8_t)(i * 7 + 1);
		memset(c.manifest.sig, 0xee, sizeof(c.manifest.sig));
		if (v == 2)
			memset(c.manifest.cert, 0x11, sizeof(c.manifest.cert));
		c.activate = FL_ACTIVATE_WINDOW;
		c.window_start_min = 23 * 60 + 59;
		c.health_window_s = UINT32_MAX;
		c.n_limits = FL_PROTO_LIMITS_MAX;
		for (unsigned i = 0; i < c.n_limits; i++) {
			memset(c.limits[i].metric, 'a', FL_PROTO_NAME_MAX - 1);
			c.limits[i].metric[0] = (char)('a' + i);
			c.limits[i].has_min = c.limits[i].has_max = true;
			c.limits[i].min = -1.23456789012345e-300;
			c.limits[i].max = 1.23456789012345e+300;
		}
		c.has_key = true;
		memset(c.key, 0x5a, sizeof(c.key));
		assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), &n, &c),
				 0);
		print_message("worst command with a key, envelope %u: %zu "
			      "bytes\n",
			      v, n);
		assert_true(n <= FL_PROTO_MSG_MAX);
		assert_int_equal(fl_proto_decode_cmd(&q, buf, n, &d), 0);
		assert_memory_equal(&c, &q, sizeof(c));
		c.manifest.body_len = FL_MANIFEST_SEALED_MAX + 1;
		assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), &n, &c),
				 FL_EINVAL);
	}
	/* A key that is not 122 bytes of base64: refused. */
	memset(&c, 0, sizeof(c));
	c.type = FL_CMD_OFFER;
	c.job = 5;
	c.expires = 100;
	c.manifest.v = 1;
	c.manifest.body_len = 10;
	c.has_key = true;
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), &n, &c), 0);
	{
		char *k = strstr(buf, "\"key\":\"");

		assert_non_null(k);
		k[8] = '!';
		assert_int_equal(fl_proto_decode_cmd(&q, buf, n, &d),
				 FL_EINVAL);
		assert_non_null(strstr(d.msg, "key"));
	}
}

/* ---- on a device -----------------------------------------------------------
 */

#define IMG_LEN	 (40 * 1024 + 5)
#define CHUNK	 8192u
#define DEV_NAME "dev-0001"

struct sealed {
	struct fx *f;
	struct wk dev, other;
	struct fl_unzip_zstd *z;
	struct fl_agent_seal_bufs bufs;
	uint8_t rec[FL_SEAL_BUF_BYTES(16384)];
	uint8_t plain[16384];
	uint8_t key[32];
	struct membuf c;
	struct fl_seal_info info;
	/* Image 2 (3.0.0) in a container of its own, under another key. */
	uint8_t key3[32];
	struct membuf c3;
	struct fl_seal_info info3;
};

static struct sealed *sealed_new(const struct fl_layout *lay, uint8_t zip)
{
	struct sealed *s = calloc(1, sizeof(*s));

	s->f = fx_new(lay, 1, IMG_LEN);
	assert_non_null(s->f);
	wrap_key_make(&s->dev, DEV_NAME);
	wrap_key_make(&s->other, "dev-0002");
	assert_int_equal(fl_unzip_zstd_new(&s->z), 0);
	s->bufs.rec = s->rec;
	s->bufs.rec_bytes = sizeof(s->rec);
	s->bufs.plain = s->plain;
	s->bufs.plain_bytes = sizeof(s->plain);
	s->f->base.device_id = DEV_NAME;
	s->f->base.wrap_keys = &s->dev.k;
	s->f->base.n_wrap_keys = 1;
	s->f->base.unzip = fl_unzip_zstd_port(s->z);
	s->f->base.seal_bufs = &s->bufs;
	assert_int_equal(fl_seal_random(s->key, 32), 0);
	pack(&s->c, &s->info, s->f->img[1].data, s->f->img[1].len, s->key, zip,
	     CHUNK);
	assert_int_equal(fl_seal_random(s->key3, 32), 0);
	pack(&s->c3, &s->info3, s->f->img[2].data, s->f->img[2].len, s->key3,
	     zip, CHUNK);
	assert_int_equal(fx_power_on(s->f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(s->f), 0);
	return s;
}

static void sealed_free(struct sealed *s)
{
	fx_free(s->f);
	fl_unzip_zstd_free(s->z);
	free(s->c.p);
	free(s->c3.p);
	free(s);
}

/* The command of a sealed offer of image `img` (seq `seq`) as job, in
 * the container `info` under `key`, that key wrapped for `to` named
 * `name` (`to` NULL: no key). */
static void sealed_cmd(struct sealed *s, uint32_t job, int img, uint64_t seq,
		       const uint8_t key[32], const struct fl_seal_info *info,
		       const struct fl_wrap_key *to, const char *name,
		       struct fl_cmd *c)
{
	struct fx *f = s->f;
	struct fl_manifest m;
	struct fl_manifest_env env;
	uint8_t digest[32];

	fx_manifest_of(&m, &f->img[img], seq);
	m.v = FL_MANIFEST_BODY_SEALED;
	m.is_sealed = true;
	m.enc_zip = info->zip;
	m.enc_chunk = info->chunk_bytes;
	m.enc_length = info->enc_len;
	memcpy(m.enc_sha256, info->enc_sha256, 32);
	assert_int_equal(fx_seal(&env, &m, &f->key), 0);
	fx_cmd(c, FL_CMD_OFFER, job, &env);
	if (to != NULL) {
		assert_int_equal(fl_sha256(&fl_crypto_openssl, env.body,
					   env.body_len, digest),
				 0);
		assert_int_equal(
			fl_seal_wrap(c->key, key, to->pub, name, digest, NULL),
			0);
		c->has_key = true;
	}
}

/* A sealed offer of image 1 (2.0.0) as job, its key wrapped for `to`
 * named `name`; the server serves `content` (NULL: the genuine
 * container). */
static int sealed_offer(struct sealed *s, uint32_t job,
			const struct fl_wrap_key *to, const char *name,
			const uint8_t *content, uint32_t content_len,
			struct fl_cmd *c)
{
	struct fx *f = s->f;

	sealed_cmd(s, job, 1, 2, s->key, &s->info, to, name, c);
	f->w.content = content != NULL ? content : s->c.p;
	f->w.content_len = content != NULL ? content_len : s->info.enc_len;
	return fl_agent_on_cmd(&f->run->agent, c);
}

static void test_sealed__device_installs_encrypted_image(void **state)
{
	for (uint8_t zip = 0; zip < 2; zip++) {
		struct sealed *s = sealed_new(&fx_layouts[0], zip);
		struct fx *f = s->f;
		struct fl_cmd c;
		const struct fl_status *st;

		(void)state;
		assert_int_equal(
			sealed_offer(s, 10, &s->dev.k, DEV_NAME, NULL, 0, &c),
			0);
		assert_int_equal(fx_run_for(f, 60000), 0);
		assert_true(f->w.reboot_requested);
		/* Only the container went over the wire. */
		assert_int_equal(f->w.bytes_served, s->info.enc_len);
		assert_int_equal(fx_power_on(f, NULL, FL_RESET_SOFTWARE), 0);
		assert_int_equal(fx_connect(f), 0);
		assert_int_equal(fx_run_for(f, 60000), 0);
		st = fx_last(f, 10);
		assert_non_null(st);
		assert_int_equal(st->result, FL_RESULT_SUCCESS);
		assert_string_equal(fx_running(f), "2.0.0");
		sealed_free(s);
	}
}

/* The device's bytes that must not change when an offer is refused. */
static uint8_t *snapshot(struct fx *f)
{
	uint8_t *m = malloc(f->lay->geom.size_bytes);

	memcpy(m, f->dev.mem, f->lay->geom.size_bytes);
	return m;
}

/* After an attack on the image: the booted slot is untouched, the target
 * is not bootable, and the job ended as said. */
static void assert_nothing_bootable(struct sealed *s, uint32_t job,
				    uint8_t result, const char *reason)
{
	struct fx *f = s->f;
	struct fl_slots *sl = fx_slots(f);
	const struct fl_status *st = fx_last(f, job);
	unsigned other = 1u - fl_slots_booted(sl);

	assert_non_null(st);
	assert_int_equal(st->result, result);
	assert_string_equal(st->reason, reason);
	assert_string_equal(fx_running(f), "1.0.0");
	assert_true(sl->info[other].state != FL_SLOT_STAGED &&
		    sl->info[other].state != FL_SLOT_TRIAL &&
		    sl->info[other].state != FL_SLOT_CONFIRMED);
	assert_false(f->w.reboot_requested);
	/* And after a power cycle the factory image still boots. */
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_string_equal(fx_running(f), "1.0.0");
}

static void test_sealed__tampered_chunk_is_refused(void **state)
{
	struct sealed *s = sealed_new(&fx_layouts[0], FL_SEAL_ZIP_ZSTD);
	uint8_t *t = malloc(s->info.enc_len);
	uint32_t off[16];
	struct fl_cmd c;

	(void)state;
	records(&s->c, off, 15);
	memcpy(t, s->c.p, s->info.enc_len);
	t[off[3] + 40] ^= 0x01;
	assert_int_equal(sealed_offer(s, 11, &s->dev.k, DEV_NAME, t,
				      s->info.enc_len, &c),
			 0);
	assert_int_equal(fx_run_for(s->f, 60000), 0);
	assert_nothing_bootable(s, 11, FL_RESULT_INTEGRITY, "chunk");
	free(t);
	sealed_free(s);
}

static void test_sealed__reordered_or_truncated_chunks_are_refused(void **state)
{
	uint32_t off[16];

	(void)state;
	for (int kind = 0; kind < 2; kind++) {
		struct sealed *s = sealed_new(&fx_layouts[0], FL_SEAL_ZIP_ZSTD);
		uint8_t *t = calloc(1, s->info.enc_len);
		uint32_t r;
		struct fl_cmd c;

		records(&s->c, off, 15);
		memcpy(t, s->c.p, s->info.enc_len);
		if (kind == 0) {
			/* Chunks 1 and 2 swapped. */
			memcpy(t + off[1], s->c.p + off[2], off[3] - off[2]);
			r = off[1] + (off[3] - off[2]);
			memcpy(t + r, s->c.p + off[1], off[2] - off[1]);
			assert_int_equal(sealed_offer(s, 12, &s->dev.k,
						      DEV_NAME, t,
						      s->info.enc_len, &c),
					 0);
			assert_int_equal(fx_run_for(s->f, 60000), 0);
			assert_nothing_bootable(s, 12, FL_RESULT_INTEGRITY,
						"chunk");
		} else {
			/* The server sends a container cut after chunk 2,
			 * and says so: refused at once, nothing bootable. */
			assert_int_equal(sealed_offer(s, 12, &s->dev.k,
						      DEV_NAME, t, off[3], &c),
					 0);
			s->f->w.claimed_total = off[3];
			assert_int_equal(fx_run_for(s->f, 3600 * 1000), 0);
			assert_nothing_bootable(s, 12, FL_RESULT_INTEGRITY,
						"length");
		}
		free(t);
		sealed_free(s);
	}
}

static void
test_sealed__wrong_key_and_other_devices_key_are_refused(void **state)
{
	struct sealed *s = sealed_new(&fx_layouts[0], FL_SEAL_ZIP_ZSTD);
	struct fx *f = s->f;
	uint8_t *before = snapshot(f);
	struct fl_cmd c;
	const struct fl_status *st;

	(void)state;
	/* Wrapped for another device: not taken, nothing changed. */
	assert_int_equal(
		sealed_offer(s, 13, &s->other.k, "dev-0002", NULL, 0, &c), 0);
	st = fx_last(f, 13);
	assert_non_null(st);
	assert_int_equal(st->result, FL_RESULT_UNSUPPORTED_PACKAGE);
	assert_string_equal(st->reason, "not_for_this_device");
	/* This device's key, bound to another device's id. */
	assert_int_equal(
		sealed_offer(s, 14, &s->dev.k, "dev-0002", NULL, 0, &c), 0);
	st = fx_last(f, 14);
	assert_int_equal(st->result, FL_RESULT_UNSUPPORTED_PACKAGE);
	assert_string_equal(st->reason, "key_unwrap");
	/* A genuine wrap re-used with another manifest (another seq). */
	{
		struct fl_cmd c2;
		uint8_t k[FL_CMD_KEY_BYTES];

		assert_int_equal(sealed_offer(s, 15, NULL, NULL, NULL, 0, &c2),
				 0);
		st = fx_last(f, 15);
		assert_string_equal(st->reason, "no_key");
		memcpy(k, c.key, sizeof(k));
		assert_int_equal(fl_seal_wrap(c.key, s->key, s->dev.k.pub,
					      DEV_NAME, c.manifest.sig, NULL),
				 0); /* bound to other bytes */
		c.job = 16;
		assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
		st = fx_last(f, 16);
		assert_string_equal(st->reason, "key_unwrap");
	}
	assert_memory_equal(before, f->dev.mem, f->lay->geom.size_bytes);
	free(before);
	/* The right wrap of the wrong content key: taken, then the first
	 * chunk does not open. */
	{
		uint8_t good[32];

		memcpy(good, s->key, 32);
		s->key[0] ^= 1;
		assert_int_equal(
			sealed_offer(s, 17, &s->dev.k, DEV_NAME, NULL, 0, &c),
			0);
		memcpy(s->key, good, 32);
		assert_int_equal(fx_run_for(f, 60000), 0);
		assert_nothing_bootable(s, 17, FL_RESULT_INTEGRITY, "chunk");
	}
	sealed_free(s);
}

/* A device without a decompression port or wrap keys refuses, untaken. */
static void test_sealed__device_that_cannot_open_refuses(void **state)
{
	struct sealed *s = sealed_new(&fx_layouts[0], FL_SEAL_ZIP_ZSTD);
	struct fx *f = s->f;
	struct fl_cmd c;

	(void)state;
	f->base.unzip.ops = NULL;
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(f), 0);
	assert_int_equal(sealed_offer(s, 20, &s->dev.k, DEV_NAME, NULL, 0, &c),
			 0);
	assert_string_equal(fx_last(f, 20)->reason, "compression");
	f->base.unzip = fl_unzip_zstd_port(s->z);
	f->base.n_wrap_keys = 0;
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(f), 0);
	assert_int_equal(sealed_offer(s, 21, &s->dev.k, DEV_NAME, NULL, 0, &c),
			 0);
	assert_int_equal(fx_last(f, 21)->result, FL_RESULT_UNSUPPORTED_PACKAGE);
	assert_string_equal(fx_last(f, 21)->reason, "encryption");
	f->base.n_wrap_keys = 1;
	f->base.seal_chunk_max = 4096;
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(f), 0);
	assert_int_equal(sealed_offer(s, 22, &s->dev.k, DEV_NAME, NULL, 0, &c),
			 0);
	assert_int_equal(fx_last(f, 22)->result, FL_RESULT_NO_RAM);
	assert_int_equal(f->run->agent.st.last_job, 0);
	sealed_free(s);
}

/* ---- a job replaced mid-download -------------------------------------------
 */

/* Job 40, the sealed 2.0.0, stopped inside its first chunk: the header
 * and 68 bytes of chunk 0 are in the stage, nothing is in the slot. */
static void stop_in_first_chunk(struct sealed *s, struct fl_cmd *c)
{
	struct fx *f = s->f;
	const struct fl_agent *a = &f->run->agent;

	assert_int_equal(sealed_offer(s, 40, &s->dev.k, DEV_NAME, NULL, 0, c),
			 0);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_true(f->w.dl_pending);
	assert_int_equal(fx_serve(f, 100, 50, false), 0);
	assert_true(f->w.dl_pending);
	assert_true(a->is_unsealing && a->unseal.has_hdr);
	assert_int_equal(a->unseal.index, 0);
	assert_int_equal(a->unseal.in_off, 100);
	assert_int_equal(a->in.written, 0);
}

/* Runs the device until job's image (3.0.0) is committed; the server
 * sends `want` bytes from here, one whole container or image. */
static void commits_3(struct sealed *s, uint32_t job, uint64_t want)
{
	struct fx *f = s->f;
	const struct fl_status *st;

	assert_int_equal(fx_run_for(f, 60000), 0);
	st = fx_last(f, job);
	assert_non_null(st);
	if (st->result != FL_RESULT_NONE)
		print_message("job %u ended %u (%s)\n", (unsigned)job,
			      (unsigned)st->result, st->reason);
	assert_int_equal(st->result, FL_RESULT_NONE);
	assert_true(f->w.reboot_requested);
	assert_int_equal(f->w.bytes_served, want);
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_SOFTWARE), 0);
	assert_int_equal(fx_connect(f), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	st = fx_last(f, job);
	assert_non_null(st);
	assert_int_equal(st->result, FL_RESULT_SUCCESS);
	assert_string_equal(fx_running(f), "3.0.0");
}

enum replace {
	BY_NEWER_OFFER,	   /* job 41 supersedes 40 */
	BY_CANCEL,	   /* 40 cancelled, then 41 */
	BY_PRECANCEL,	   /* cancel 41 first, then offers 41 and 42 */
	BY_ROLLBACK,	   /* a rollback to the running 1.0.0, then 42 */
	BY_POWER_CYCLE,	   /* power lost, then 41 */
	BY_PLAIN_OFFER,	   /* a plain 3.0.0 as 41 */
	BY_PLAIN_THEN_NEW, /* a plain 3.0.0 as 41, under way, then 42 */
	N_REPLACE
};

/* A sealed job stopped inside its first chunk (stage at chunk 0, slot at
 * 0) and then replaced, by every path that ends or replaces a job: the
 * next job downloads its own container from byte 0 under its own key and
 * commits, and a plain job runs with no unseal stage (and no key) left in
 * RAM. */
static void test_sealed__replaced_job_leaves_no_unseal_stage(void **state)
{
	(void)state;
	for (uint8_t zip = 0; zip < 2; zip++) {
		for (int how = 0; how < N_REPLACE; how++) {
			struct sealed *s = sealed_new(&fx_layouts[0], zip);
			struct fx *f = s->f;
			const struct fl_agent *a = &f->run->agent;
			struct fl_cmd c, k;
			uint32_t job = 41;

			stop_in_first_chunk(s, &c);
			switch (how) {
			case BY_CANCEL:
				fx_cmd(&k, FL_CMD_CANCEL, 40, NULL);
				assert_int_equal(
					fl_agent_on_cmd(&f->run->agent, &k), 0);
				assert_int_equal(fx_last(f, 40)->result,
						 FL_RESULT_CANCELLED);
				break;
			case BY_PRECANCEL:
				fx_cmd(&k, FL_CMD_CANCEL, 41, NULL);
				assert_int_equal(
					fl_agent_on_cmd(&f->run->agent, &k), 0);
				sealed_cmd(s, 41, 2, 4, s->key3, &s->info3,
					   &s->dev.k, DEV_NAME, &k);
				assert_int_equal(
					fl_agent_on_cmd(&f->run->agent, &k), 0);
				assert_int_equal(fx_last(f, 41)->result,
						 FL_RESULT_CANCELLED);
				assert_false(a->is_unsealing);
				assert_false(a->unseal.has_key);
				job = 42;
				break;
			case BY_ROLLBACK: {
				struct fl_manifest m;
				struct fl_manifest_env env;

				fx_manifest_of(&m, &f->img[0], 3);
				m.is_rollback = true;
				assert_int_equal(fx_seal(&env, &m, &f->key), 0);
				fx_cmd(&k, FL_CMD_ROLLBACK, 41, &env);
				assert_int_equal(
					fl_agent_on_cmd(&f->run->agent, &k), 0);
				assert_int_equal(a->st.last_job, 41);
				assert_false(a->is_unsealing);
				assert_false(a->unseal.has_key);
				job = 42;
				break;
			}
			case BY_POWER_CYCLE:
				assert_int_equal(
					fx_power_on(f, NULL, FL_RESET_POWER_ON),
					0);
				assert_int_equal(fx_connect(f), 0);
				break;
			case BY_PLAIN_OFFER:
			case BY_PLAIN_THEN_NEW:
				assert_int_equal(fx_offer(f, 41, 2, 3, &k), 0);
				assert_false(a->is_unsealing);
				assert_false(a->unseal.has_key);
				if (how == BY_PLAIN_OFFER)
					break;
				assert_int_equal(
					fl_agent_poll(&f->run->agent, NULL), 0);
				assert_int_equal(fx_serve(f, 5000, 1000, false),
						 0);
				job = 42;
				break;
			default: break;
			}
			/* Job 40's transfer was stopped, or replaced. */
			assert_true(!f->w.dl_pending || how == BY_NEWER_OFFER ||
				    how == BY_PLAIN_THEN_NEW);
			f->w.bytes_served = 0;
			if (how == BY_PLAIN_OFFER) {
				commits_3(s, 41, f->img[2].len);
			} else {
				sealed_cmd(s, job, 2, 4, s->key3, &s->info3,
					   &s->dev.k, DEV_NAME, &k);
				f->w.content = s->c3.p;
				f->w.content_len = s->info3.enc_len;
				assert_int_equal(
					fl_agent_on_cmd(&f->run->agent, &k), 0);
				assert_false(a->is_unsealing);
				commits_3(s, job, s->info3.enc_len);
			}
			if (how == BY_NEWER_OFFER) {
				assert_int_equal(fx_last(f, 40)->result,
						 FL_RESULT_CANCELLED);
				assert_string_equal(fx_last(f, 40)->reason,
						    "superseded");
			}
			sealed_free(s);
		}
	}
}

/* The same job offered again mid-chunk changes nothing: an open transfer
 * goes on, and one that was cut resumes from the stage in RAM at the
 * container byte where it stopped; the container crosses the wire once. */
static void test_sealed__same_job_again_resumes_in_ram(void **state)
{
	(void)state;
	for (int is_cut = 0; is_cut < 2; is_cut++) {
		struct sealed *s = sealed_new(&fx_layouts[0], FL_SEAL_ZIP_ZSTD);
		struct fx *f = s->f;
		const struct fl_status *st;
		struct fl_cmd c;

		stop_in_first_chunk(s, &c);
		if (is_cut) {
			f->w.dl_open = false;
			f->w.dl_pending = false;
			assert_int_equal(
				fl_agent_on_dl_done(&f->run->agent, FL_EIO), 0);
		}
		assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
		assert_int_equal(f->run->agent.unseal.in_off, 100);
		assert_int_equal(fx_run_for(f, 60000), 0);
		assert_true(f->w.reboot_requested);
		assert_int_equal(f->w.n_starts, is_cut ? 2 : 1);
		if (is_cut)
			assert_int_equal(f->w.req.offset, 100);
		assert_int_equal(f->w.bytes_served, s->info.enc_len);
		assert_int_equal(fx_power_on(f, NULL, FL_RESET_SOFTWARE), 0);
		assert_int_equal(fx_connect(f), 0);
		assert_int_equal(fx_run_for(f, 60000), 0);
		st = fx_last(f, 40);
		assert_non_null(st);
		assert_int_equal(st->result, FL_RESULT_SUCCESS);
		assert_string_equal(fx_running(f), "2.0.0");
		sealed_free(s);
	}
}

/* Power cut at every flash operation of an encrypted download (and its
 * verification and activation), in each mode: the device always boots a
 * verified image, and once powered on with the network back it ends with
 * 2.0.0 committed; at least one run resumed from a chunk checkpoint. */
static void test_sealed__power_cut_sweep_resumes_from_a_chunk(void **state)
{
	static const uint8_t modes[] = {FL_SIM_CUT_CLEAN, FL_SIM_CUT_TORN,
					FL_SIM_CUT_GARBAGE};
	unsigned resumed = 0, runs = 0;

	(void)state;
	for (unsigned li = 0; li < 2; li++) {
		struct sealed *s =
			sealed_new(&fx_layouts[li], FL_SEAL_ZIP_ZSTD);
		struct fx *f = s->f;
		struct fl_cmd c;
		uint64_t ops0, total;

		/* Count the flash operations of a clean download. */
		ops0 = f->run->hal.sim.ops;
		assert_int_equal(
			sealed_offer(s, 30, &s->dev.k, DEV_NAME, NULL, 0, &c),
			0);
		assert_int_equal(fx_run_for(f, 60000), 0);
		assert_true(f->w.reboot_requested);
		total = f->run->hal.sim.ops - ops0;
		sealed_free(s);
		for (uint64_t cut = 1; cut <= total; cut += 3) {
			for (unsigned m = 0; m < 3; m++) {
				struct fl_sim_faults ft;
				const struct fl_status *st;
				int rc;

				s = sealed_new(&fx_layouts[li],
					       FL_SEAL_ZIP_ZSTD);
				f = s->f;
				memset(&ft, 0, sizeof(ft));
				ft.cut_at = f->run->hal.sim.ops + cut;
				ft.cut_mode = modes[m];
				f->run->hal.sim.faults = ft;
				rc = sealed_offer(s, 30, &s->dev.k, DEV_NAME,
						  NULL, 0, &c);
				if (rc == 0)
					rc = fx_run_for(f, 60000);
				runs++;
				/* Power back on, as often as it takes. */
				for (int i = 0; i < 6; i++) {
					assert_int_equal(
						fx_power_on(f, NULL,
							    FL_RESET_POWER_ON),
						0);
					if ((f->run->agent.st.job.flags &
					     FL_AGENT_JOB_SEALED) &&
					    f->run->agent.st.job.enc_offset > 0)
						resumed++;
					assert_int_equal(fx_connect(f), 0);
					/* fleetd sends the offer again until
					 * the device takes it. */
					if (f->run->agent.st.last_job != 30)
						assert_int_equal(
							sealed_offer(s, 30,
								     &s->dev.k,
								     DEV_NAME,
								     NULL, 0,
								     &c),
							0);
					assert_int_equal(fx_run_for(f, 120000),
							 0);
					st = fx_last(f, 30);
					if (st != NULL &&
					    st->result == FL_RESULT_SUCCESS)
						break;
				}
				st = fx_last(f, 30);
				assert_non_null(st);
				assert_int_equal(st->result, FL_RESULT_SUCCESS);
				assert_string_equal(fx_running(f), "2.0.0");
				sealed_free(s);
			}
		}
	}
	print_message("sealed sweep: %u runs, %u resumed from a chunk\n", runs,
		      resumed);
	assert_true(resumed > 0);
}

#ifdef FL_TEST_SEALED_NONE
/* The agent built without encrypted images (agent/core/noseal/
 * sealed_none.c in place of sealed.c, as agent/esp32 builds it;
 * test_sealed_none): an encrypted offer is refused unsupported_package
 * (encryption) although the device has the wrap key, nothing is
 * downloaded or written, and a plain image still installs and commits. */
static void test_sealed__agent_without_encryption_refuses(void **state)
{
	struct sealed *s = sealed_new(&fx_layouts[0], FL_SEAL_ZIP_NONE);
	struct fx *f = s->f;
	uint8_t *before = snapshot(f);
	struct fl_cmd c;
	const struct fl_status *st;

	(void)state;
	assert_int_equal(sealed_offer(s, 30, &s->dev.k, DEV_NAME, NULL, 0, &c),
			 0);
	st = fx_last(f, 30);
	assert_non_null(st);
	assert_int_equal(st->result, FL_RESULT_UNSUPPORTED_PACKAGE);
	assert_string_equal(st->reason, "encryption");
	assert_int_equal(f->run->agent.st.last_job, 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_int_equal(f->w.bytes_served, 0);
	assert_memory_equal(before, f->dev.mem, f->lay->geom.size_bytes);
	assert_nothing_bootable(s, 30, FL_RESULT_UNSUPPORTED_PACKAGE,
				"encryption");
	free(before);
	assert_int_equal(fx_connect(f), 0);
	assert_int_equal(fx_offer(f, 31, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_true(f->w.reboot_requested);
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_SOFTWARE), 0);
	assert_int_equal(fx_connect(f), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	st = fx_last(f, 31);
	assert_non_null(st);
	assert_int_equal(st->result, FL_RESULT_SUCCESS);
	assert_string_equal(fx_running(f), "2.0.0");
	sealed_free(s);
}
#endif

int main(void)
{
#ifdef FL_TEST_SEALED_NONE
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sealed__agent_without_encryption_refuses),
	};
#else
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sealed__gcm_vector_both_ports),
		cmocka_unit_test(test_sealed__ecdh_vector_both_ports),
		cmocka_unit_test(test_sealed__hkdf_vector_both_ports),
		cmocka_unit_test(test_sealed__roundtrip_both_ports_both_zips),
		cmocka_unit_test(test_sealed__stage_refuses_every_attack),
		cmocka_unit_test(test_sealed__seek_resumes_at_a_chunk),
		cmocka_unit_test(
			test_sealed__wrap_opens_only_for_its_device_and_manifest),
		cmocka_unit_test(test_sealed__worst_command_with_a_key_fits),
		cmocka_unit_test(test_sealed__device_installs_encrypted_image),
		cmocka_unit_test(test_sealed__tampered_chunk_is_refused),
		cmocka_unit_test(
			test_sealed__reordered_or_truncated_chunks_are_refused),
		cmocka_unit_test(
			test_sealed__wrong_key_and_other_devices_key_are_refused),
		cmocka_unit_test(test_sealed__device_that_cannot_open_refuses),
		cmocka_unit_test(
			test_sealed__replaced_job_leaves_no_unseal_stage),
		cmocka_unit_test(test_sealed__same_job_again_resumes_in_ram),
		cmocka_unit_test(
			test_sealed__power_cut_sweep_resumes_from_a_chunk),
	};
#endif

	return cmocka_run_group_tests(tests, NULL, NULL);
}
