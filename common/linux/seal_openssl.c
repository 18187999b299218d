/*
 * seal_openssl.c -- encrypted images made on a server or an operator's
 * machine (seal_openssl.h): the streaming packer, the key wrap, wrap keys
 * in PEM.
 *
 * Method: the packer keeps one chunk of plaintext; when it is full (or the
 * image ends) it is compressed into one zstd frame (window no larger than
 * the chunk, content size written, no checksum: the GCM tag covers it) or
 * kept as it is, sealed with AES-256-GCM under the chunk's nonce and
 * additional data (fl/seal.h: header, index, last flag, payload length),
 * and written as LE32 length, payload, tag. Everything written is hashed
 * on the way, as is everything fed, so the caller gets the container's and
 * the image's length and SHA-256 without reading either again. The
 * plaintext never leaves this process: a caller that writes only what the
 * packer gives it never stores plain firmware.
 *
 * The wrap makes a fresh P-256 key pair, ECDH with the recipient's point
 * (through the OpenSSL crypto port, the same code the agent runs on
 * Linux), derives the wrapping key (fl_wrap_kek) and seals the content key
 * under it with a zero nonce and the additional data of fl_wrap_aad.
 */
#define _POSIX_C_SOURCE 200809L

#include "fl/seal_openssl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <zstd.h>

#include "fl/bytes.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/proto.h"

__attribute__((format(printf, 3, 4))) static int
fail(struct fl_seal_diag *diag, int err, const char *fmt, ...)
{
	va_list ap;

	if (diag != NULL) {
		va_start(ap, fmt);
		vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

int fl_seal_random(void *buf, size_t n)
{
	if (n > INT32_MAX)
		return FL_EINVAL;
	return RAND_bytes(buf, (int)n) == 1 ? 0 : FL_ECRYPTO;
}

/* AES-256-GCM encryption of buf[0, len) in place; the tag into tag. */
static int gcm_seal(const uint8_t key[FL_AES256_KEY_BYTES],
		    const uint8_t iv[FL_GCM_IV_BYTES], const uint8_t *aad,
		    size_t aad_len, uint8_t *buf, size_t len,
		    uint8_t tag[FL_GCM_TAG_BYTES])
{
	EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new();
	int n = 0, rc = FL_ECRYPTO;

	if (e == NULL || len > INT32_MAX || aad_len > INT32_MAX)
		goto out;
	if (EVP_EncryptInit_ex(e, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_SET_IVLEN, FL_GCM_IV_BYTES,
				NULL) != 1 ||
	    EVP_EncryptInit_ex(e, NULL, NULL, key, iv) != 1)
		goto out;
	if (aad_len > 0 &&
	    EVP_EncryptUpdate(e, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	if (len > 0 && EVP_EncryptUpdate(e, buf, &n, buf, (int)len) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(e, buf + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_GET_TAG, FL_GCM_TAG_BYTES,
				tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(e);
	return rc;
}

/* ---- the packer ------------------------------------------------------- */

struct fl_seal_packer {
	uint8_t key[FL_AES256_KEY_BYTES];
	struct fl_seal_header h;
	uint8_t hdr[FL_SEAL_HEADER_BYTES];
	int level;
	fl_seal_write_fn w;
	void *wctx;
	struct fl_hash_ctx plain_hash, enc_hash;
	uint32_t fed;	  /* plaintext bytes fed */
	uint32_t index;	  /* next chunk */
	uint32_t fill;	  /* plaintext bytes in chunk */
	uint64_t enc_len; /* container bytes written */
	uint8_t *chunk;	  /* chunk_bytes */
	uint8_t *rec;	  /* length, payload, tag */
	ZSTD_CCtx *cctx;  /* zip zstd */
	struct fl_seal_diag *diag;
};

static int emit(struct fl_seal_packer *p, const void *data, size_t len)
{
	int rc;

	if (p->enc_len + len > UINT32_MAX)
		return fail(p->diag, FL_ETOOBIG, "container over 4 GiB");
	rc = fl_crypto_openssl.sha256_update(&p->enc_hash, data, len);
	if (rc == 0)
		rc = p->w(p->wctx, data, len);
	if (rc != 0)
		return fail(p->diag, rc, "cannot write the container: %s",
			    fl_strerror(rc));
	p->enc_len += len;
	return 0;
}

/* Seals the chunk in p->chunk[0, p->fill) as record p->index. */
static int seal_chunk(struct fl_seal_packer *p)
{
	uint8_t iv[FL_GCM_IV_BYTES];
	uint8_t aad[FL_SEAL_AAD_BYTES];
	uint8_t *payload = p->rec + FL_SEAL_LEN_BYTES;
	size_t n;
	bool is_last = p->index + 1 == p->h.chunks;
	int rc;

	if (p->fill != fl_seal_chunk_plain(&p->h, p->index))
		return fail(p->diag, FL_ESTATE, "chunk %u: %u bytes, not %u",
			    (unsigned)p->index, (unsigned)p->fill,
			    (unsigned)fl_seal_chunk_plain(&p->h, p->index));
	if (p->h.zip == FL_SEAL_ZIP_ZSTD) {
		n = ZSTD_compress2(p->cctx, payload,
				   FL_SEAL_PAYLOAD_MAX(p->h.chunk_bytes),
				   p->chunk, p->fill);
		if (ZSTD_isError(n))
			return fail(p->diag, FL_EIO, "zstd: %s",
				    ZSTD_getErrorName(n));
	} else {
		memcpy(payload, p->chunk, p->fill);
		n = p->fill;
	}
	fl_put_le32(p->rec, (uint32_t)n);
	fl_seal_nonce(iv, &p->h, p->index);
	fl_seal_aad(aad, p->hdr, p->index, is_last, (uint32_t)n);
	rc = gcm_seal(p->key, iv, aad, sizeof(aad), payload, n, payload + n);
	if (rc != 0)
		return fail(p->diag, rc, "AES-256-GCM failed");
	rc = emit(p, p->rec, FL_SEAL_LEN_BYTES + n + FL_GCM_TAG_BYTES);
	if (rc != 0)
		return rc;
	p->index++;
	p->fill = 0;
	return 0;
}

void fl_seal_packer_free(struct fl_seal_packer *p)
{
	if (p == NULL)
		return;
	if (p->chunk != NULL)
		OPENSSL_cleanse(p->chunk, p->h.chunk_bytes);
	free(p->chunk);
	free(p->rec);
	ZSTD_freeCCtx(p->cctx);
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
}

/* The log2 of the smallest power of two >= n (zstd's windowLog). */
static int log2_up(uint32_t n)
{
	int l = 10;

	while (((uint32_t)1 << l) < n)
		l++;
	return l;
}

int fl_seal_packer_new(struct fl_seal_packer **out,
		       const uint8_t key[FL_AES256_KEY_BYTES], uint8_t zip,
		       int level, uint32_t chunk_bytes, uint32_t plain_len,
		       fl_seal_write_fn w, void *wctx,
		       struct fl_seal_diag *diag)
{
	struct fl_seal_packer *p;
	int rc;

	if (out == NULL || key == NULL || w == NULL)
		return FL_EINVAL;
	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return fail(diag, FL_ENOMEM, "out of memory");
	memcpy(p->key, key, sizeof(p->key));
	p->level = level;
	p->w = w;
	p->wctx = wctx;
	p->diag = diag;
	p->h.zip = zip;
	p->h.chunk_bytes = chunk_bytes;
	p->h.plain_len = plain_len;
	p->h.chunks =
		plain_len == 0 || chunk_bytes == 0
			? 0
			: plain_len / chunk_bytes +
				  (plain_len % chunk_bytes != 0 ? 1u : 0u);
	rc = fl_seal_random(p->h.nonce, sizeof(p->h.nonce));
	if (rc != 0) {
		rc = fail(diag, rc, "no random bytes");
		goto out;
	}
	if (fl_seal_header_encode(p->hdr, &p->h) != 0) {
		rc = fail(
			diag, FL_EINVAL,
			"chunk size %u (a multiple of 4096 in 4096..1048576), "
			"compression %u or length %u out of range",
			(unsigned)chunk_bytes, (unsigned)zip,
			(unsigned)plain_len);
		goto out;
	}
	p->chunk = malloc(chunk_bytes);
	p->rec = malloc(FL_SEAL_LEN_BYTES + FL_SEAL_BUF_BYTES(chunk_bytes));
	if (p->chunk == NULL || p->rec == NULL) {
		rc = fail(diag, FL_ENOMEM, "out of memory");
		goto out;
	}
	if (zip == FL_SEAL_ZIP_ZSTD) {
		p->cctx = ZSTD_createCCtx();
		if (p->cctx == NULL ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(
			    p->cctx, ZSTD_c_compressionLevel, level)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(
			    p->cctx, ZSTD_c_windowLog, log2_up(chunk_bytes))) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(
			    p->cctx, ZSTD_c_contentSizeFlag, 1)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(
			    p->cctx, ZSTD_c_checksumFlag, 0))) {
			rc = fail(diag, FL_EINVAL, "zstd level %d refused",
				  level);
			goto out;
		}
	}
	rc = fl_crypto_openssl.sha256_init(&p->plain_hash);
	if (rc == 0)
		rc = fl_crypto_openssl.sha256_init(&p->enc_hash);
	if (rc == 0)
		rc = emit(p, p->hdr, sizeof(p->hdr));
	if (rc != 0)
		goto out;
	*out = p;
	return 0;
out:
	fl_seal_packer_free(p);
	return rc;
}

int fl_seal_packer_feed(struct fl_seal_packer *p, const void *data, size_t len)
{
	const uint8_t *s = data;
	int rc;

	if (p == NULL || (data == NULL && len > 0))
		return FL_EINVAL;
	if (len > p->h.plain_len - p->fed)
		return fail(p->diag, FL_ETOOBIG, "more than %u bytes",
			    (unsigned)p->h.plain_len);
	rc = fl_crypto_openssl.sha256_update(&p->plain_hash, data, len);
	if (rc != 0)
		return rc;
	p->fed += (uint32_t)len;
	while (len > 0) {
		uint32_t want = fl_seal_chunk_plain(&p->h, p->index) - p->fill;
		uint32_t n = len < want ? (uint32_t)len : want;

		memcpy(p->chunk + p->fill, s, n);
		p->fill += n;
		s += n;
		len -= n;
		if (p->fill == fl_seal_chunk_plain(&p->h, p->index)) {
			rc = seal_chunk(p);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

int fl_seal_packer_finish(struct fl_seal_packer *p, struct fl_seal_info *info)
{
	int rc;

	if (p == NULL || info == NULL)
		return FL_EINVAL;
	if (p->fed != p->h.plain_len || p->index != p->h.chunks)
		return fail(p->diag, FL_ESTATE, "image ended at %u of %u bytes",
			    (unsigned)p->fed, (unsigned)p->h.plain_len);
	memset(info, 0, sizeof(*info));
	info->zip = p->h.zip;
	info->chunk_bytes = p->h.chunk_bytes;
	info->plain_len = p->h.plain_len;
	info->enc_len = (uint32_t)p->enc_len;
	rc = fl_crypto_openssl.sha256_final(&p->plain_hash, info->plain_sha256);
	if (rc == 0)
		rc = fl_crypto_openssl.sha256_final(&p->enc_hash,
						    info->enc_sha256);
	return rc;
}

/* ---- a file sealed ---------------------------------------------------- */

struct fd_writer {
	int fd;
};

static int write_fd(void *ctx, const void *data, size_t len)
{
	struct fd_writer *f = ctx;
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t n = write(f->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FL_EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fl_seal_pack_file(const char *in_path, const char *out_path,
		      const uint8_t key[FL_AES256_KEY_BYTES], uint8_t zip,
		      int level, uint32_t chunk_bytes,
		      struct fl_seal_info *info, struct fl_seal_diag *diag)
{
	struct fl_seal_packer *p = NULL;
	struct fd_writer fw = {-1};
	char tmp[4096];
	static uint8_t buf[1 << 16];
	struct stat st;
	int in = -1, rc;

	if (in_path == NULL || out_path == NULL || info == NULL)
		return FL_EINVAL;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", out_path) >= (int)sizeof(tmp))
		return fail(diag, FL_EINVAL, "%s: path too long", out_path);
	in = open(in_path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return fail(diag, errno == ENOENT ? FL_ENOENT : FL_EIO,
			    "%s: %s", in_path, strerror(errno));
	if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = fail(diag, FL_EIO, "%s: not a regular file", in_path);
		goto out;
	}
	if (st.st_size <= 0 || (uint64_t)st.st_size > UINT32_MAX) {
		rc = fail(diag, FL_ETOOBIG, "%s: empty or over 4 GiB - 1",
			  in_path);
		goto out;
	}
	fw.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fw.fd < 0) {
		rc = fail(diag, FL_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = fl_seal_packer_new(&p, key, zip, level, chunk_bytes,
				(uint32_t)st.st_size, write_fd, &fw, diag);
	while (rc == 0) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(diag, FL_EIO, "%s: %s", in_path,
				  strerror(errno));
			break;
		}
		if (n == 0)
			break;
		rc = fl_seal_packer_feed(p, buf, (size_t)n);
	}
	if (rc == 0)
		rc = fl_seal_packer_finish(p, info);
	if (rc == 0 && fsync(fw.fd) != 0)
		rc = fail(diag, FL_EIO, "%s: %s", tmp, strerror(errno));
	if (rc == 0 && close(fw.fd) != 0)
		rc = fail(diag, FL_EIO, "%s: %s", tmp, strerror(errno));
	else if (rc != 0)
		close(fw.fd);
	fw.fd = -1;
	if (rc == 0 && rename(tmp, out_path) != 0)
		rc = fail(diag, FL_EIO, "%s: %s", out_path, strerror(errno));
	if (rc != 0)
		(void)unlink(tmp);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	fl_seal_packer_free(p);
	if (in >= 0)
		close(in);
	return rc;
}

/* ---- keys ------------------------------------------------------------- */

/* The private scalar (32 bytes, big-endian) and the point of an EC P-256
 * EVP_PKEY. Returns 0 or FL_EINVAL. */
static int key_parts(EVP_PKEY *k, uint8_t priv[FL_P256_PRIV_BYTES],
		     uint8_t pub[65])
{
	char group[32] = "";
	BIGNUM *d = NULL;
	size_t n = 0;
	int rc = FL_EINVAL;

	if (!EVP_PKEY_is_a(k, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
					    group, sizeof(group), NULL) ||
	    strcmp(group, "prime256v1") != 0)
		return FL_EINVAL;
	if (!EVP_PKEY_get_octet_string_param(
		    k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, 65, &n) ||
	    n != 65 || pub[0] != 0x04)
		return FL_EINVAL;
	if (priv == NULL)
		return 0;
	if (!EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d) ||
	    BN_bn2binpad(d, priv, FL_P256_PRIV_BYTES) != FL_P256_PRIV_BYTES)
		goto out;
	rc = 0;
out:
	BN_clear_free(d);
	return rc;
}

static int ensure_ec_point_format(EVP_PKEY *k)
{
	/* The encoded public key must come uncompressed. */
	return EVP_PKEY_set_utf8_string_param(
		       k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
		       "uncompressed") == 1
		       ? 0
		       : FL_EINVAL;
}

int fl_seal_wrap(uint8_t blob[FL_WRAP_BYTES],
		 const uint8_t key[FL_AES256_KEY_BYTES], const uint8_t rpub[65],
		 const char *name,
		 const uint8_t manifest_sha256[FL_SHA256_BYTES],
		 struct fl_seal_diag *diag)
{
	const struct fl_crypto_ops *c = &fl_crypto_openssl;
	EVP_PKEY *eph = NULL;
	uint8_t epriv[FL_P256_PRIV_BYTES];
	uint8_t epk[65];
	uint8_t kid[FL_WRAP_KID_BYTES];
	uint8_t secret[FL_ECDH_BYTES];
	uint8_t kek[FL_AES256_KEY_BYTES];
	uint8_t aad[FL_WRAP_AAD_MAX];
	uint8_t iv[FL_GCM_IV_BYTES];
	size_t aad_len;
	int rc;

	if (blob == NULL || key == NULL || rpub == NULL ||
	    manifest_sha256 == NULL)
		return FL_EINVAL;
	memset(blob, 0, FL_WRAP_BYTES);
	rc = fl_wrap_kid(kid, c, rpub);
	if (rc != 0)
		return fail(diag, rc, "cannot hash the recipient's key");
	aad_len = fl_wrap_aad(aad, kid, name, manifest_sha256);
	if (aad_len == 0)
		return fail(diag, FL_EINVAL, "recipient name: 1 to 63 bytes");
	eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (eph == NULL || ensure_ec_point_format(eph) != 0 ||
	    key_parts(eph, epriv, epk) != 0) {
		rc = fail(diag, FL_ECRYPTO, "cannot make an ephemeral key");
		goto out;
	}
	rc = c->p256_ecdh(epriv, rpub, secret);
	if (rc != 0) {
		rc = fail(diag, rc, "the recipient's key is not a P-256 point");
		goto out;
	}
	rc = fl_wrap_kek(kek, c, secret, epk, rpub);
	if (rc != 0)
		goto out;
	blob[0] = FL_WRAP_FORMAT;
	memcpy(blob + 1, kid, FL_WRAP_KID_BYTES);
	memcpy(blob + 1 + FL_WRAP_KID_BYTES, epk, 65);
	memcpy(blob + 1 + FL_WRAP_KID_BYTES + 65, key, FL_AES256_KEY_BYTES);
	memset(iv, 0, sizeof(iv));
	rc = gcm_seal(kek, iv, aad, aad_len, blob + 1 + FL_WRAP_KID_BYTES + 65,
		      FL_AES256_KEY_BYTES,
		      blob + FL_WRAP_BYTES - FL_GCM_TAG_BYTES);
	if (rc != 0)
		rc = fail(diag, rc, "AES-256-GCM failed");
out:
	if (rc != 0)
		memset(blob, 0, FL_WRAP_BYTES);
	OPENSSL_cleanse(epriv, sizeof(epriv));
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(kek, sizeof(kek));
	EVP_PKEY_free(eph);
	return rc;
}

static int read_pem(EVP_PKEY **out, const char *path, bool is_private,
		    struct fl_seal_diag *diag)
{
	FILE *f = fopen(path, "r");

	*out = NULL;
	if (f == NULL)
		return fail(diag, errno == ENOENT ? FL_ENOENT : FL_EIO,
			    "%s: %s", path, strerror(errno));
	*out = is_private ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
			  : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	return *out != NULL ? 0 : FL_EINVAL;
}

int fl_seal_wrap_key_load(struct fl_wrap_key *out, const char *path,
			  const char *name, struct fl_seal_diag *diag)
{
	EVP_PKEY *k = NULL;
	int rc;

	if (out == NULL || path == NULL || name == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	if (name[0] == '\0' || strlen(name) >= sizeof(out->name))
		return fail(diag, FL_EINVAL, "%s: name of 1 to 63 bytes", path);
	rc = read_pem(&k, path, true, diag);
	if (rc == FL_EINVAL)
		return fail(diag, rc, "%s: not a PEM private key", path);
	if (rc != 0)
		return rc;
	if (ensure_ec_point_format(k) != 0 ||
	    key_parts(k, out->priv, out->pub) != 0) {
		rc = fail(diag, FL_EINVAL, "%s: not a P-256 private key", path);
		goto out;
	}
	rc = fl_wrap_kid(out->kid, &fl_crypto_openssl, out->pub);
	memcpy(out->name, name, strlen(name) + 1);
out:
	EVP_PKEY_free(k);
	if (rc != 0)
		OPENSSL_cleanse(out, sizeof(*out));
	return rc;
}

int fl_seal_wrap_pub_load(uint8_t pub[65], const char *path,
			  struct fl_seal_diag *diag)
{
	EVP_PKEY *k = NULL;
	char text[200];
	size_t n = 0;
	FILE *f;
	int rc;

	if (pub == NULL || path == NULL)
		return FL_EINVAL;
	f = fopen(path, "r");
	if (f == NULL)
		return fail(diag, errno == ENOENT ? FL_ENOENT : FL_EIO,
			    "%s: %s", path, strerror(errno));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	if (strncmp(text, "-----BEGIN", 10) != 0) {
		size_t a = strspn(text, " \t\r\n");
		size_t len = strspn(text + a, "0123456789abcdefABCDEF");

		if (len == 130 &&
		    text[a + len + strspn(text + a + len, " \t\r\n")] == '\0' &&
		    fl_hex_decode(pub, 65, text + a, 130) == 0 &&
		    pub[0] == 0x04)
			return 0;
		return fail(diag, FL_EINVAL,
			    "%s: not a PEM key or 130 hex digits", path);
	}
	rc = read_pem(&k, path, strstr(text, "PRIVATE") != NULL, diag);
	if (rc == 0 &&
	    (ensure_ec_point_format(k) != 0 || key_parts(k, NULL, pub) != 0))
		rc = FL_EINVAL;
	if (rc == FL_EINVAL)
		rc = fail(diag, rc, "%s: not a P-256 key", path);
	EVP_PKEY_free(k);
	return rc;
}

int fl_seal_wrap_key_create(const char *path, uint8_t pub[65],
			    struct fl_seal_diag *diag)
{
	EVP_PKEY *k = NULL;
	uint8_t p[65];
	FILE *f = NULL;
	int fd, rc = FL_ECRYPTO;

	if (path == NULL)
		return FL_EINVAL;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (k == NULL || ensure_ec_point_format(k) != 0 ||
	    key_parts(k, NULL, p) != 0) {
		rc = fail(diag, FL_ECRYPTO, "cannot make a P-256 key");
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = fail(diag, FL_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		rc = fail(diag, FL_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fflush(f) != 0 || fsync(fileno(f)) != 0) {
		rc = fail(diag, FL_EIO, "%s: cannot write", path);
		goto out;
	}
	if (pub != NULL)
		memcpy(pub, p, sizeof(p));
	rc = 0;
out:
	if (f != NULL && fclose(f) != 0 && rc == 0)
		rc = fail(diag, FL_EIO, "%s: %s", path, strerror(errno));
	if (rc != 0 && f != NULL)
		(void)unlink(path);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return rc;
}
