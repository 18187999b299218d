/*
 * imgkeys.c -- the keys of fleetd's encrypted images (imgkeys.h): the KEK,
 * the content records, the wrap registry, and the runner's key port.
 *
 * Method: a content record is a few text lines, written once per import:
 *
 * one per image and form (compression and chunk size; content/<image
 * sha256> for fleetd's default form, content/<image sha256>.none-4096 and
 * the like for others, so that one image can be held in several forms at
 * once, each rollout offering the one its plan asks for):
 *
 *   fleetd content key 1
 *   container <sha256 hex>
 *   length <container bytes>
 *   zip zstd|none
 *   chunk <plaintext bytes per chunk>
 *   key <hex: 12-byte nonce, the 32-byte key encrypted, 16-byte tag>
 *
 * The key is sealed with AES-256-GCM under the KEK, a random nonce, and
 * additional data "fleetd content key 1", the image's and the
 * container's digests (hex): a record moved to another image's name, or
 * pointed at another container, does not open. The KEK never leaves
 * DATA/keys/kek and this process; a copy of DATA/artifacts alone holds no
 * firmware and no key.
 *
 * The key port: a content key is opened from its record at its first
 * offer and kept (KEYS_HELD at most, the oldest dropped and wiped), so an
 * offer costs one wrap: the device's public key (read once, then taken
 * from a cache of PUBS_CAP entries checked against the file's inode, size
 * and mtime, so that a replaced key is read again), an ephemeral P-256
 * key, ECDH, HKDF and GCM (fl_seal_wrap).
 */

#include "imgkeys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "fl/bytes.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/seal_openssl.h"

#define KEYS_HELD    16
#define REC_MAGIC    "fleetd content key 1"
#define REC_MAX	     1024
#define KEK_FILE     "kek"
#define CONTENT_DIR  "content"
#define WRAP_DIR     "wrap"
#define WRAP_PEM_MAX 1024
#define PUBS_CAP     16384 /* wrap keys held, a power of two */
#define PUBS_PROBE   32

struct held {
	char container[65];
	uint8_t key[FL_AES256_KEY_BYTES];
	uint64_t used;
};

/* A registered wrap key as last read, valid while its file is the same. */
struct pubc {
	char name[FL_WRAP_NAME_MAX];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
	uint8_t pub[65];
};

struct fld_imgkeys {
	char data[FLD_IMGKEYS_PATH_MAX];
	struct pubc *pubs; /* PUBS_CAP, made at the first wrap */
	bool has_kek;
	uint8_t kek[FLD_KEK_BYTES];
	struct held held[KEYS_HELD];
	unsigned n_held;
	uint64_t clock;
};

__attribute__((format(printf, 3, 4))) static int
fail(struct fld_imgkeys_diag *diag, int err, const char *fmt, ...)
{
	va_list ap;

	if (diag != NULL) {
		va_start(ap, fmt);
		vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return FL_EIO;
	if (fsync(fd) != 0)
		rc = FL_EIO;
	close(fd);
	return rc;
}

/* Makes parent/name (0700) or checks that it is a folder nobody else may
 * write to; its path into out. */
static int ensure_dir(char *out, size_t cap, const char *parent,
		      const char *name, struct fld_imgkeys_diag *diag)
{
	struct stat st;

	if ((size_t)snprintf(out, cap, "%s/%s", parent, name) >= cap)
		return fail(diag, FL_EINVAL, "%s: path too long", parent);
	if (mkdir(out, 0700) == 0)
		return fsync_dir(parent) == 0
			       ? 0
			       : fail(diag, FL_EIO, "%s: cannot sync: %s",
				      parent, strerror(errno));
	if (errno != EEXIST)
		return fail(diag, FL_EIO, "%s: %s", out, strerror(errno));
	if (lstat(out, &st) != 0)
		return fail(diag, FL_EIO, "%s: %s", out, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(diag, FL_ESTATE, "%s: not a directory", out);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return fail(diag, FL_ESTATE,
			    "%s: mode %04o lets group or others replace "
			    "fleetd's image keys; refusing it (chmod 700 it)",
			    out, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* Writes data to path through path.tmp (O_EXCL, mode), synced, renamed
 * (or linked when !is_replace: an existing file is kept, FL_ESTATE), the
 * folder synced. */
static int write_file(const char *path, const void *data, size_t len,
		      mode_t mode, bool is_replace,
		      struct fld_imgkeys_diag *diag)
{
	char tmp[FLD_IMGKEYS_PATH_MAX + 8], dir[FLD_IMGKEYS_PATH_MAX];
	const uint8_t *p = data;
	char *slash;
	int fd, rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp) ||
	    (size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return fail(diag, FL_EINVAL, "%s: path too long", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		*slash = '\0';
	if (unlink(tmp) != 0 && errno != ENOENT)
		return fail(diag, FL_EIO, "%s: %s", tmp, strerror(errno));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  mode);
	if (fd < 0)
		return fail(diag, FL_EIO, "%s: %s", tmp, strerror(errno));
	while (len > 0 && rc == 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = fail(diag, FL_EIO, "%s: %s", tmp, strerror(errno));
		else {
			p += n;
			len -= (size_t)n;
		}
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = fail(diag, FL_EIO, "%s: %s", tmp, strerror(errno));
	if (close(fd) != 0 && rc == 0)
		rc = fail(diag, FL_EIO, "%s: %s", tmp, strerror(errno));
	if (rc == 0 && is_replace && rename(tmp, path) != 0)
		rc = fail(diag, FL_EIO, "%s: %s", path, strerror(errno));
	if (rc == 0 && !is_replace && link(tmp, path) != 0)
		rc = errno == EEXIST ? fail(diag, FL_ESTATE, "%s exists", path)
				     : fail(diag, FL_EIO, "%s: %s", path,
					    strerror(errno));
	if (rc == 0 && fsync_dir(dir) != 0)
		rc = fail(diag, FL_EIO, "%s: cannot sync", dir);
	(void)unlink(tmp);
	return rc;
}

/* Reads at most cap - 1 bytes of path, NUL-terminated, checking that it
 * is a regular file of ours that group and others cannot read when
 * is_secret. */
static int read_small(const char *path, char *buf, size_t cap, size_t *len,
		      bool is_secret, struct fld_imgkeys_diag *diag)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return fail(diag, errno == ENOENT ? FL_ENOENT : FL_EIO,
			    "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(diag, FL_ESTATE, "%s: not a regular file", path);
	}
	if (is_secret && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		close(fd);
		return fail(diag, FL_ESTATE,
			    "%s: mode %04o lets group or others read it; "
			    "refusing it (find out who may have copied it, "
			    "then chmod 600 it)",
			    path, (unsigned)(st.st_mode & 07777));
	}
	if (is_secret && st.st_uid != geteuid()) {
		close(fd);
		return fail(diag, FL_ESTATE,
			    "%s: owned by uid %u, not by fleetd's uid %u", path,
			    (unsigned)st.st_uid, (unsigned)geteuid());
	}
	if ((uint64_t)st.st_size >= cap) {
		close(fd);
		return fail(diag, FL_ESTATE, "%s: %lld bytes, too large", path,
			    (long long)st.st_size);
	}
	do
		n = read(fd, buf, cap - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return fail(diag, FL_EIO, "%s: %s", path, strerror(errno));
	buf[n] = '\0';
	*len = (size_t)n;
	return 0;
}

/* ---- open, KEK ---------------------------------------------------------- */

int fld_imgkeys_open(struct fld_imgkeys **out, const char *data_dir,
		     struct fld_imgkeys_diag *diag)
{
	struct fld_imgkeys *k;

	if (out == NULL || data_dir == NULL)
		return FL_EINVAL;
	*out = NULL;
	if (strlen(data_dir) + 80 >= FLD_IMGKEYS_PATH_MAX)
		return fail(diag, FL_EINVAL, "%s: path too long", data_dir);
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return fail(diag, FL_ENOMEM, "out of memory");
	memcpy(k->data, data_dir, strlen(data_dir) + 1);
	*out = k;
	return 0;
}

void fld_imgkeys_free(struct fld_imgkeys *k)
{
	if (k == NULL)
		return;
	free(k->pubs);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

int fld_imgkeys_kek(struct fld_imgkeys *k, bool may_create,
		    struct fld_imgkeys_diag *diag)
{
	char dir[FLD_IMGKEYS_PATH_MAX], path[FLD_IMGKEYS_PATH_MAX + 8];
	char buf[FLD_KEK_BYTES + 8];
	uint8_t fresh[FLD_KEK_BYTES];
	size_t n = 0;
	int rc;

	if (k == NULL)
		return FL_EINVAL;
	if (k->has_kek)
		return 0;
	rc = ensure_dir(dir, sizeof(dir), k->data, "keys", diag);
	if (rc != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/" KEK_FILE, dir);
	rc = read_small(path, buf, sizeof(buf), &n, true, diag);
	if (rc == FL_ENOENT && may_create) {
		if (fl_seal_random(fresh, sizeof(fresh)) != 0)
			return fail(diag, FL_ECRYPTO, "no random bytes");
		/* never replaces: a KEK another fleetd made meanwhile wins */
		rc = write_file(path, fresh, sizeof(fresh), 0600, false, diag);
		OPENSSL_cleanse(fresh, sizeof(fresh));
		if (rc == FL_ESTATE)
			rc = 0;
		if (rc == 0)
			rc = read_small(path, buf, sizeof(buf), &n, true, diag);
	}
	if (rc == FL_ENOENT)
		return fail(diag, FL_ENOENT,
			    "%s: no key-encryption key: the content keys of "
			    "encrypted images cannot be opened",
			    path);
	if (rc == 0 && n != FLD_KEK_BYTES)
		rc = fail(diag, FL_ESTATE,
			  "%s: %zu bytes, not the %d of a key-encryption key",
			  path, n, FLD_KEK_BYTES);
	if (rc == 0) {
		memcpy(k->kek, buf, FLD_KEK_BYTES);
		k->has_kek = true;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

/* ---- content records ---------------------------------------------------- */

static bool is_hex64(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* The additional data of a record's key. */
static size_t rec_aad(char *out, size_t cap, const char *image,
		      const char *container)
{
	int n = snprintf(out, cap, REC_MAGIC "%s%s", image, container);

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int gcm(bool is_seal, const uint8_t kek[FLD_KEK_BYTES],
	       const uint8_t iv[FL_GCM_IV_BYTES], const char *aad,
	       size_t aad_len, const uint8_t *in, uint8_t *out, size_t len,
	       uint8_t tag[FL_GCM_TAG_BYTES])
{
	EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new();
	int n = 0, ok;

	ok = e != NULL &&
	     EVP_CipherInit_ex(e, EVP_aes_256_gcm(), NULL, NULL, NULL,
			       is_seal) == 1 &&
	     EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_SET_IVLEN, FL_GCM_IV_BYTES,
				 NULL) == 1 &&
	     EVP_CipherInit_ex(e, NULL, NULL, kek, iv, is_seal) == 1 &&
	     EVP_CipherUpdate(e, NULL, &n, (const uint8_t *)aad,
			      (int)aad_len) == 1 &&
	     EVP_CipherUpdate(e, out, &n, in, (int)len) == 1;
	if (ok && !is_seal)
		ok = EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_SET_TAG,
					 FL_GCM_TAG_BYTES, tag) == 1;
	if (ok)
		ok = EVP_CipherFinal_ex(e, out + len, &n) == 1;
	if (ok && is_seal)
		ok = EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_GET_TAG,
					 FL_GCM_TAG_BYTES, tag) == 1;
	EVP_CIPHER_CTX_free(e);
	ERR_clear_error();
	return ok ? 0 : FL_ECRYPTO;
}

#define SEALED_KEY_BYTES                                                       \
	(FL_GCM_IV_BYTES + FL_AES256_KEY_BYTES + FL_GCM_TAG_BYTES)

/* The record of image sealed in the form (zip, chunk): named by the
 * image's digest for fleetd's default form (zstd, FLD_IMG_CHUNK), by the
 * digest and the form (<sha256>.none-4096) for any other. */
static int content_path(char *out, size_t cap, const struct fld_imgkeys *k,
			const char *image, uint8_t zip, uint32_t chunk)
{
	size_t n;

	if (zip == FL_SEAL_ZIP_ZSTD && chunk == FLD_IMG_CHUNK)
		n = (size_t)snprintf(out, cap, "%s/keys/" CONTENT_DIR "/%s",
				     k->data, image);
	else
		n = (size_t)snprintf(
			out, cap, "%s/keys/" CONTENT_DIR "/%s.%s-%u", k->data,
			image, zip == FL_SEAL_ZIP_ZSTD ? "zstd" : "none",
			(unsigned)chunk);
	return n >= cap ? FL_EINVAL : 0;
}

int fld_imgkeys_content_put(struct fld_imgkeys *k, const char *image_sha,
			    const struct fl_runner_sealed *s,
			    const uint8_t key[FL_AES256_KEY_BYTES],
			    struct fld_imgkeys_diag *diag)
{
	char dir[FLD_IMGKEYS_PATH_MAX], path[FLD_IMGKEYS_PATH_MAX];
	char aad[200], rec[REC_MAX], hex[2 * SEALED_KEY_BYTES + 1];
	uint8_t blob[SEALED_KEY_BYTES + 16];
	size_t aad_len;
	int rc, n;

	if (k == NULL || !is_hex64(image_sha) || s == NULL ||
	    !is_hex64(s->container) || key == NULL ||
	    (s->zip != FL_SEAL_ZIP_ZSTD && s->zip != FL_SEAL_ZIP_NONE))
		return FL_EINVAL;
	rc = fld_imgkeys_kek(k, true, diag);
	if (rc == 0)
		rc = ensure_dir(dir, sizeof(dir), k->data, "keys", diag);
	if (rc == 0)
		rc = ensure_dir(path, sizeof(path), dir, CONTENT_DIR, diag);
	if (rc != 0)
		return rc;
	if (content_path(path, sizeof(path), k, image_sha, s->zip, s->chunk) !=
	    0)
		return fail(diag, FL_EINVAL, "path too long");
	aad_len = rec_aad(aad, sizeof(aad), image_sha, s->container);
	if (fl_seal_random(blob, FL_GCM_IV_BYTES) != 0 ||
	    gcm(true, k->kek, blob, aad, aad_len, key, blob + FL_GCM_IV_BYTES,
		FL_AES256_KEY_BYTES,
		blob + FL_GCM_IV_BYTES + FL_AES256_KEY_BYTES) != 0)
		return fail(diag, FL_ECRYPTO, "cannot seal a content key");
	(void)fl_hex_encode(hex, sizeof(hex), blob, SEALED_KEY_BYTES);
	n = snprintf(rec, sizeof(rec),
		     REC_MAGIC "\ncontainer %s\nlength %u\nzip %s\n"
			       "chunk %u\nkey %s\n",
		     s->container, (unsigned)s->length,
		     s->zip == FL_SEAL_ZIP_ZSTD ? "zstd" : "none",
		     (unsigned)s->chunk, hex);
	OPENSSL_cleanse(blob, sizeof(blob));
	if (n < 0 || (size_t)n >= sizeof(rec))
		return fail(diag, FL_EINVAL, "content record too long");
	rc = write_file(path, rec, (size_t)n, 0600, true, diag);
	OPENSSL_cleanse(rec, sizeof(rec));
	return rc;
}

/* The value after "name " on its own line of rec, into out[cap]. */
static bool rec_field(const char *rec, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	for (const char *l = rec; l != NULL && *l != '\0';) {
		const char *end = strchr(l, '\n');
		size_t len = end != NULL ? (size_t)(end - l) : strlen(l);

		if (len > n && strncmp(l, name, n) == 0 && l[n] == ' ') {
			if (len - n - 1 >= cap)
				return false;
			memcpy(out, l + n + 1, len - n - 1);
			out[len - n - 1] = '\0';
			return true;
		}
		l = end != NULL ? end + 1 : NULL;
	}
	return false;
}

static bool parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

int fld_imgkeys_content_get(struct fld_imgkeys *k, const char *image_sha,
			    uint8_t zip, uint32_t chunk,
			    struct fl_runner_sealed *s,
			    uint8_t key[FL_AES256_KEY_BYTES],
			    struct fld_imgkeys_diag *diag)
{
	char path[FLD_IMGKEYS_PATH_MAX], rec[REC_MAX], v[2 * REC_MAX / 2];
	char aad[200];
	uint8_t blob[SEALED_KEY_BYTES];
	size_t n = 0, aad_len;
	int rc;

	if (k == NULL || !is_hex64(image_sha) || s == NULL)
		return FL_EINVAL;
	memset(s, 0, sizeof(*s));
	if (content_path(path, sizeof(path), k, image_sha, zip, chunk) != 0)
		return fail(diag, FL_EINVAL, "path too long");
	rc = read_small(path, rec, sizeof(rec), &n, true, diag);
	if (rc != 0)
		return rc;
	rc = FL_ECORRUPT;
	if (strncmp(rec, REC_MAGIC "\n", strlen(REC_MAGIC) + 1) != 0 ||
	    !rec_field(rec, "container", s->container, sizeof(s->container)) ||
	    !is_hex64(s->container) || !rec_field(rec, "length", v, 16) ||
	    !parse_u32(v, &s->length) || s->length == 0 ||
	    !rec_field(rec, "chunk", v, 16) || !parse_u32(v, &s->chunk) ||
	    !rec_field(rec, "zip", v, 8) ||
	    (strcmp(v, "zstd") != 0 && strcmp(v, "none") != 0))
		goto out;
	s->zip = strcmp(v, "zstd") == 0 ? FL_SEAL_ZIP_ZSTD : FL_SEAL_ZIP_NONE;
	if (s->zip != zip || s->chunk != chunk)
		goto out; /* a record under another form's name */
	rc = 0;
	if (key == NULL)
		goto out;
	rc = FL_ECORRUPT;
	if (!rec_field(rec, "key", v, sizeof(v)) ||
	    strlen(v) != 2 * SEALED_KEY_BYTES ||
	    fl_hex_decode(blob, sizeof(blob), v, strlen(v)) != 0)
		goto out;
	rc = fld_imgkeys_kek(k, false, diag);
	if (rc != 0)
		goto wipe;
	aad_len = rec_aad(aad, sizeof(aad), image_sha, s->container);
	if (gcm(false, k->kek, blob, aad, aad_len, blob + FL_GCM_IV_BYTES, key,
		FL_AES256_KEY_BYTES,
		blob + FL_GCM_IV_BYTES + FL_AES256_KEY_BYTES) != 0) {
		OPENSSL_cleanse(key, FL_AES256_KEY_BYTES);
		rc = fail(diag, FL_ECORRUPT,
			  "%s: the content key does not open with "
			  "DATA/keys/kek (another KEK, or the record was "
			  "changed)",
			  path);
		goto wipe;
	}
	rc = 0;
	goto wipe;
out:
	if (rc == FL_ECORRUPT)
		fail(diag, rc, "%s: not a content record", path);
wipe:
	OPENSSL_cleanse(rec, sizeof(rec));
	OPENSSL_cleanse(v, sizeof(v));
	OPENSSL_cleanse(blob, sizeof(blob));
	return rc;
}

/* ---- the wrap registry -------------------------------------------------- */

bool fld_wrap_name_ok(const char *name)
{
	return name != NULL && fl_device_id_check(name) == 0;
}

static int wrap_path(char *out, size_t cap, const char *data, const char *name)
{
	return (size_t)snprintf(out, cap, "%s/" WRAP_DIR "/%s.pem", data,
				name) >= cap
		       ? FL_EINVAL
		       : 0;
}

/* An EVP_PKEY of the P-256 point pub, which must be on the curve. */
static EVP_PKEY *pub_pkey(const uint8_t pub[65])
{
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *c = NULL, *chk = NULL;
	EVP_PKEY *k = NULL;

	if (b == NULL || pub[0] != 0x04 ||
	    !OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME,
					     "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub,
					      65) ||
	    (params = OSSL_PARAM_BLD_to_param(b)) == NULL ||
	    (c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	chk = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	if (chk == NULL || EVP_PKEY_public_check(chk) != 1) {
		EVP_PKEY_free(k);
		k = NULL;
	}
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	ERR_clear_error();
	return k;
}

int fld_wrap_pub_read(uint8_t pub[65], const char *path,
		      struct fld_imgkeys_diag *diag)
{
	struct fl_seal_diag sd = {""};
	char text[WRAP_PEM_MAX];
	size_t n = 0;
	EVP_PKEY *k;
	int rc;

	if (pub == NULL || path == NULL)
		return FL_EINVAL;
	rc = read_small(path, text, sizeof(text), &n, false, diag);
	if (rc == FL_ESTATE)
		return fail(diag, FL_EINVAL,
			    "%s: not a public key (a PEM public key or 130 "
			    "hex digits)",
			    path);
	if (rc != 0)
		return rc;
	if (strstr(text, "PRIVATE") != NULL)
		return fail(diag, FL_EINVAL,
			    "%s: a private key; give its public half "
			    "(fleet-manifest pubkey %s), the private half "
			    "stays on the device",
			    path, path);
	if (strncmp(text + strspn(text, " \t\r\n"), "-----BEGIN PUBLIC KEY",
		    21) != 0 &&
	    strstr(text, "-----BEGIN") != NULL)
		return fail(diag, FL_EINVAL, "%s: not a PEM public key", path);
	rc = fl_seal_wrap_pub_load(pub, path, &sd);
	if (rc != 0)
		return fail(diag, rc == FL_ENOENT ? rc : FL_EINVAL, "%s",
			    sd.msg);
	k = pub_pkey(pub);
	if (k == NULL)
		return fail(diag, FL_EINVAL, "%s: not a point on P-256", path);
	EVP_PKEY_free(k);
	return 0;
}

int fld_wrap_put(const char *data_dir, const char *name, const uint8_t pub[65],
		 bool is_replace, struct fld_imgkeys_diag *diag)
{
	char dir[FLD_IMGKEYS_PATH_MAX], path[FLD_IMGKEYS_PATH_MAX];
	char *pem = NULL;
	long len;
	BIO *bio = NULL;
	EVP_PKEY *k;
	int rc;

	if (!fld_wrap_name_ok(name))
		return fail(diag, FL_EINVAL,
			    "`%.80s`: a device id or group name is 1 to 63 of "
			    "[A-Za-z0-9._-], the first a letter or digit",
			    name != NULL ? name : "");
	k = pub_pkey(pub);
	if (k == NULL)
		return fail(diag, FL_EINVAL, "not a point on P-256");
	rc = ensure_dir(dir, sizeof(dir), data_dir, WRAP_DIR, diag);
	if (rc == 0 && wrap_path(path, sizeof(path), data_dir, name) != 0)
		rc = fail(diag, FL_EINVAL, "path too long");
	if (rc != 0)
		goto out;
	if (!is_replace && access(path, F_OK) == 0) {
		rc = fail(diag, FL_ESTATE,
			  "%s already has a wrap key (%s): --replace replaces "
			  "it",
			  name, path);
		goto out;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_PUBKEY(bio, k) != 1 ||
	    (len = BIO_get_mem_data(bio, &pem)) <= 0) {
		rc = fail(diag, FL_ECRYPTO, "cannot write a public key");
		goto out;
	}
	rc = write_file(path, pem, (size_t)len, 0644, is_replace, diag);
	if (rc == FL_ESTATE)
		rc = fail(
			diag, FL_ESTATE,
			"%s already has a wrap key (%s): --replace replaces it",
			name, path);
out:
	BIO_free(bio);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return rc;
}

int fld_wrap_get(const char *data_dir, const char *name, uint8_t pub[65],
		 struct fld_imgkeys_diag *diag)
{
	struct fl_seal_diag sd = {""};
	char path[FLD_IMGKEYS_PATH_MAX];
	int rc;

	if (!fld_wrap_name_ok(name) ||
	    wrap_path(path, sizeof(path), data_dir, name) != 0)
		return fail(diag, FL_EINVAL, "bad wrap key name");
	rc = fl_seal_wrap_pub_load(pub, path, &sd);
	if (rc != 0)
		return fail(diag, rc, "%s", sd.msg);
	return 0;
}

bool fld_wrap_has(const char *data_dir, const char *name)
{
	char path[FLD_IMGKEYS_PATH_MAX];

	return fld_wrap_name_ok(name) &&
	       wrap_path(path, sizeof(path), data_dir, name) == 0 &&
	       access(path, F_OK) == 0;
}

int fld_wrap_remove(const char *data_dir, const char *name,
		    struct fld_imgkeys_diag *diag)
{
	char path[FLD_IMGKEYS_PATH_MAX], dir[FLD_IMGKEYS_PATH_MAX];

	if (!fld_wrap_name_ok(name) ||
	    wrap_path(path, sizeof(path), data_dir, name) != 0)
		return fail(diag, FL_EINVAL,
			    "`%.80s`: not a device id or group name",
			    name != NULL ? name : "");
	if (unlink(path) != 0)
		return fail(diag, errno == ENOENT ? FL_ENOENT : FL_EIO,
			    "%s: %s", path,
			    errno == ENOENT ? "no wrap key of that name"
					    : strerror(errno));
	snprintf(dir, sizeof(dir), "%s/" WRAP_DIR, data_dir);
	return fsync_dir(dir) == 0 ? 0
				   : fail(diag, FL_EIO, "%s: cannot sync", dir);
}

int fld_wrap_list(const char *data_dir,
		  int (*cb)(void *ctx, const char *name, const uint8_t pub[65]),
		  void *ctx)
{
	char dir[FLD_IMGKEYS_PATH_MAX], name[FL_DEVICE_ID_MAX];
	struct dirent *e;
	uint8_t pub[65];
	DIR *d;
	int rc = 0;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/" WRAP_DIR, data_dir) >=
	    sizeof(dir))
		return FL_EINVAL;
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : FL_EIO;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n <= 4 || n - 4 >= sizeof(name) ||
		    strcmp(e->d_name + n - 4, ".pem") != 0)
			continue;
		memcpy(name, e->d_name, n - 4);
		name[n - 4] = '\0';
		if (!fld_wrap_name_ok(name) ||
		    fld_wrap_get(data_dir, name, pub, NULL) != 0)
			continue;
		rc = cb(ctx, name, pub);
	}
	closedir(d);
	return rc;
}

int fld_wrap_make_device(const char *data_dir, const char *out_dir,
			 const char *id, bool is_force,
			 struct fld_imgkeys_diag *diag)
{
	struct fl_seal_diag sd = {""};
	char path[FLD_IMGKEYS_PATH_MAX];
	uint8_t pub[65];
	int rc;

	if (!fld_wrap_name_ok(id))
		return fail(diag, FL_EINVAL, "`%.80s`: not a device id",
			    id != NULL ? id : "");
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.wrap.pem", out_dir,
			     id) >= sizeof(path))
		return fail(diag, FL_EINVAL, "%s: path too long", out_dir);
	if (access(path, F_OK) == 0) {
		if (!is_force)
			return fail(diag, FL_ESTATE,
				    "%s exists (--force replaces it)", path);
		if (unlink(path) != 0)
			return fail(diag, FL_EIO, "%s: %s", path,
				    strerror(errno));
	}
	rc = fl_seal_wrap_key_create(path, pub, &sd);
	if (rc != 0)
		return fail(diag, rc, "%s", sd.msg);
	rc = fld_wrap_put(data_dir, id, pub, true, diag);
	if (rc != 0)
		(void)unlink(path);
	return rc;
}

/* ---- the runner's key port ---------------------------------------------- */

static int port_sealed(void *ctx, const char *sha, uint8_t zip, uint32_t chunk,
		       struct fl_runner_sealed *out, char *why, size_t why_cap)
{
	struct fld_imgkeys *k = ctx;
	struct fld_imgkeys_diag d = {""};
	uint8_t key[FL_AES256_KEY_BYTES];
	int rc = fld_imgkeys_content_get(k, sha, zip, chunk, out, key, &d);

	OPENSSL_cleanse(key, sizeof(key));
	if (rc != 0 && rc != FL_ENOENT && why != NULL)
		snprintf(why, why_cap, "%s", d.msg);
	return rc;
}

/* The recipient: the device's own key, else its group's. */
static const char *recipient(struct fld_imgkeys *k, const char *device,
			     const char *group)
{
	if (fld_wrap_has(k->data, device))
		return device;
	if (group != NULL && fld_wrap_has(k->data, group))
		return group;
	return NULL;
}

static int port_can_wrap(void *ctx, const char *device, const char *group)
{
	return recipient(ctx, device, group) != NULL ? 0 : FL_ENOENT;
}

/* The content key of container (the image image_sha's, sealed in the
 * form zip, chunk), held or opened. */
static int content_key(struct fld_imgkeys *k, const char *image_sha,
		       uint8_t zip, uint32_t chunk, const char *container,
		       uint8_t key[FL_AES256_KEY_BYTES], char *why,
		       size_t why_cap)
{
	struct fld_imgkeys_diag d = {""};
	struct fl_runner_sealed s;
	struct held *h = NULL;
	int rc;

	k->clock++;
	for (unsigned i = 0; i < k->n_held; i++)
		if (strcmp(k->held[i].container, container) == 0) {
			k->held[i].used = k->clock;
			memcpy(key, k->held[i].key, FL_AES256_KEY_BYTES);
			return 0;
		}
	rc = fld_imgkeys_content_get(k, image_sha, zip, chunk, &s, key, &d);
	if (rc == 0 && strcmp(s.container, container) != 0) {
		OPENSSL_cleanse(key, FL_AES256_KEY_BYTES);
		snprintf(d.msg, sizeof(d.msg),
			 "the image's content record names container %.12s, "
			 "not %.12s (imported again since)",
			 s.container, container);
		rc = FL_ENOENT;
	}
	if (rc != 0) {
		snprintf(why, why_cap, "%s",
			 d.msg[0] ? d.msg : "no content key");
		return rc == FL_ENOENT ? FL_ESTATE : rc;
	}
	if (k->n_held < KEYS_HELD) {
		h = &k->held[k->n_held++];
	} else {
		h = &k->held[0];
		for (unsigned i = 1; i < KEYS_HELD; i++)
			if (k->held[i].used < h->used)
				h = &k->held[i];
	}
	memcpy(h->container, container, sizeof(h->container));
	memcpy(h->key, key, FL_AES256_KEY_BYTES);
	h->used = k->clock;
	return 0;
}

/* name's registered key, from the cache while its file has not changed
 * (a PEM decode costs about a millisecond; a stat a few microseconds). */
static int pub_cached(struct fld_imgkeys *k, const char *name, uint8_t pub[65],
		      struct fld_imgkeys_diag *diag)
{
	char path[FLD_IMGKEYS_PATH_MAX];
	struct pubc *slot = NULL;
	struct stat st;
	uint32_t h = 2166136261u;
	int rc;

	if (!fld_wrap_name_ok(name) ||
	    wrap_path(path, sizeof(path), k->data, name) != 0)
		return fail(diag, FL_EINVAL, "bad wrap key name");
	if (stat(path, &st) != 0)
		return fail(diag, errno == ENOENT ? FL_ENOENT : FL_EIO,
			    "%s: %s", path, strerror(errno));
	if (k->pubs == NULL)
		k->pubs = calloc(PUBS_CAP, sizeof(*k->pubs));
	for (const char *c = name; k->pubs != NULL && *c != '\0'; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	for (unsigned i = 0; k->pubs != NULL && i < PUBS_PROBE; i++) {
		struct pubc *e = &k->pubs[(h + i) & (PUBS_CAP - 1)];

		if (e->name[0] != '\0' && strcmp(e->name, name) != 0)
			continue;
		slot = e;
		if (e->name[0] != '\0' && e->dev == st.st_dev &&
		    e->ino == st.st_ino && e->size == st.st_size &&
		    e->mtim.tv_sec == st.st_mtim.tv_sec &&
		    e->mtim.tv_nsec == st.st_mtim.tv_nsec) {
			memcpy(pub, e->pub, 65);
			return 0;
		}
		break;
	}
	if (slot == NULL && k->pubs != NULL)
		slot = &k->pubs[h & (PUBS_CAP - 1)]; /* full: replace one */
	rc = fld_wrap_get(k->data, name, pub, diag);
	if (rc == 0 && slot != NULL) {
		memcpy(slot->name, name, strlen(name) + 1);
		slot->dev = st.st_dev;
		slot->ino = st.st_ino;
		slot->size = st.st_size;
		slot->mtim = st.st_mtim;
		memcpy(slot->pub, pub, 65);
	}
	return rc;
}

static int port_wrap(void *ctx, const char *device, const char *group,
		     const struct fl_manifest_env *env,
		     uint8_t blob[FL_CMD_KEY_BYTES], char *why, size_t why_cap)
{
	struct fld_imgkeys *k = ctx;
	struct fl_seal_diag sd = {""};
	struct fld_imgkeys_diag d = {""};
	uint8_t key[FL_AES256_KEY_BYTES], pub[65], digest[FL_SHA256_BYTES];
	char image[65], container[65];
	struct fl_manifest m;
	const char *to;
	int rc;

	if (fl_manifest_body_decode_unverified(&m, env->body, env->body_len,
					       NULL) != 0 ||
	    !m.is_sealed) {
		snprintf(why, why_cap,
			 "not the manifest of an encrypted "
			 "image");
		return FL_EINVAL;
	}
	to = recipient(k, device, group);
	if (to == NULL) {
		snprintf(why, why_cap,
			 "no wrap key for %s%s%s: register one (fleetd pki "
			 "device, fleetd wrapkey add)",
			 device, group != NULL ? " nor its group " : "",
			 group != NULL ? group : "");
		return FL_ENOENT;
	}
	rc = pub_cached(k, to, pub, &d);
	if (rc != 0) {
		snprintf(why, why_cap, "%s", d.msg);
		return rc == FL_ENOENT ? FL_ENOENT : FL_EINVAL;
	}
	(void)fl_hex_encode(image, sizeof(image), m.sha256, sizeof(m.sha256));
	(void)fl_hex_encode(container, sizeof(container), m.enc_sha256,
			    sizeof(m.enc_sha256));
	rc = content_key(k, image, m.enc_zip, m.enc_chunk, container, key, why,
			 why_cap);
	if (rc != 0)
		return rc;
	rc = fl_sha256(&fl_crypto_openssl, env->body, env->body_len, digest);
	if (rc == 0)
		rc = fl_seal_wrap(blob, key, pub, to, digest, &sd);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != 0)
		snprintf(why, why_cap, "cannot wrap for %s: %s", to,
			 sd.msg[0] ? sd.msg : fl_strerror(rc));
	return rc;
}

const struct fl_runner_key_ops fld_imgkeys_key_ops = {
	port_sealed,
	port_can_wrap,
	port_wrap,
};
