/*
 * sign_openssl.c -- P-256 signing keys on OpenSSL 3: make, read and write
 * PEM, the public point and kid, ECDSA signatures of manifest digests.
 *
 * Method: a key is an EVP_PKEY checked to be EC on prime256v1 when it is
 * read; its uncompressed point is read once (OSSL_PKEY_PARAM_ENCODED_
 * PUBLIC_KEY) and its kid computed through the crypto port, so the key
 * answers pub and kid without OpenSSL afterwards. A signature is OpenSSL's
 * DER ECDSA-Sig-Value over the given digest (EVP_PKEY_sign with SHA-256 as
 * the declared digest, so OpenSSL signs the digest as is), converted to
 * the fixed r || s form of the manifest envelope. OpenSSL's per-thread
 * error queue is cleared after a failure so that it leaves no residue.
 */
#include "fl/sign_openssl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fl/crypto_openssl.h"
#include "fl/err.h"

#define ECDSA_DER_MAX 72 /* SEQUENCE of two INTEGERs of at most 33 bytes */

struct fl_sign_key {
	EVP_PKEY *pkey;
	bool is_private;
	uint8_t pub[FL_MANIFEST_PUB_BYTES];
	uint8_t kid[FL_MANIFEST_KID_BYTES];
};

__attribute__((format(printf, 2, 3))) static void say(struct fl_sign_diag *diag,
						      const char *fmt, ...)
{
	va_list ap;

	if (diag == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
	va_end(ap);
}

/* Takes pkey (on success only), checks its curve and reads its point. */
static int wrap(struct fl_sign_key **out, EVP_PKEY *pkey, bool is_private,
		const char *name, struct fl_sign_diag *diag)
{
	char group[64] = "";
	struct fl_sign_key *k;
	size_t n = 0;

	if (!EVP_PKEY_is_a(pkey, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
					    group, sizeof(group), NULL) ||
	    strcmp(group, "prime256v1") != 0) {
		ERR_clear_error();
		say(diag, "%s: not a P-256 key", name);
		return FL_EINVAL;
	}
	k = calloc(1, sizeof(*k));
	if (k == NULL) {
		say(diag, "%s: out of memory", name);
		return FL_ENOMEM;
	}
	if (!EVP_PKEY_get_octet_string_param(pkey,
					     OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
					     k->pub, sizeof(k->pub), &n) ||
	    n != sizeof(k->pub) || k->pub[0] != 0x04 ||
	    fl_manifest_kid(k->kid, &fl_crypto_openssl, k->pub) != 0) {
		ERR_clear_error();
		free(k);
		say(diag, "%s: cannot read the public point", name);
		return FL_ECRYPTO;
	}
	k->pkey = pkey;
	k->is_private = is_private;
	*out = k;
	return 0;
}

int fl_sign_key_generate(struct fl_sign_key **out, struct fl_sign_diag *diag)
{
	EVP_PKEY *pkey;
	int rc;

	if (out == NULL)
		return FL_EINVAL;
	*out = NULL;
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (pkey == NULL) {
		ERR_clear_error();
		say(diag, "key generation failed");
		return FL_ECRYPTO;
	}
	rc = wrap(out, pkey, true, "new key", diag);
	if (rc != 0)
		EVP_PKEY_free(pkey);
	return rc;
}

int fl_sign_key_read_pem(struct fl_sign_key **out, FILE *f, const char *name,
			 bool is_private_required, struct fl_sign_diag *diag)
{
	EVP_PKEY *pkey;
	bool is_private = true;
	int rc;

	if (out == NULL || f == NULL || name == NULL)
		return FL_EINVAL;
	*out = NULL;
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (pkey == NULL && !is_private_required) {
		rewind(f);
		ERR_clear_error();
		pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		is_private = false;
	}
	if (pkey == NULL) {
		ERR_clear_error();
		say(diag, "%s: not a PEM %skey", name,
		    is_private_required ? "private " : "");
		return FL_EINVAL;
	}
	rc = wrap(out, pkey, is_private, name, diag);
	if (rc != 0)
		EVP_PKEY_free(pkey);
	return rc;
}

int fl_sign_key_load_pem(struct fl_sign_key **out, const char *path,
			 bool is_private_required, struct fl_sign_diag *diag)
{
	FILE *f;
	int rc;

	if (out == NULL || path == NULL)
		return FL_EINVAL;
	*out = NULL;
	f = fopen(path, "re");
	if (f == NULL) {
		rc = errno == ENOENT ? FL_ENOENT : FL_EIO;
		say(diag, "%s: %s", path, strerror(errno));
		return rc;
	}
	rc = fl_sign_key_read_pem(out, f, path, is_private_required, diag);
	fclose(f);
	return rc;
}

int fl_sign_key_write_pem(const struct fl_sign_key *k, FILE *f)
{
	if (k == NULL || f == NULL)
		return FL_EINVAL;
	if (!k->is_private)
		return FL_ESTATE;
	if (!PEM_write_PrivateKey(f, k->pkey, NULL, NULL, 0, NULL, NULL)) {
		ERR_clear_error();
		return FL_EIO;
	}
	return 0;
}

void fl_sign_key_free(struct fl_sign_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

bool fl_sign_key_is_private(const struct fl_sign_key *k)
{
	return k != NULL && k->is_private;
}

const uint8_t *fl_sign_key_pub(const struct fl_sign_key *k)
{
	return k->pub;
}

const uint8_t *fl_sign_key_kid(const struct fl_sign_key *k)
{
	return k->kid;
}

void fl_sign_key_pub_hex(const struct fl_sign_key *k,
			 char out[FL_SIGN_PUB_HEX_MAX])
{
	(void)fl_hex_encode(out, FL_SIGN_PUB_HEX_MAX, k->pub, sizeof(k->pub));
}

void fl_sign_key_kid_hex(const struct fl_sign_key *k,
			 char out[FL_SIGN_KID_HEX_MAX])
{
	(void)fl_hex_encode(out, FL_SIGN_KID_HEX_MAX, k->kid, sizeof(k->kid));
}

int fl_sign_key_sign_digest(void *ctx, const uint8_t digest[FL_SHA256_BYTES],
			    uint8_t sig[FL_MANIFEST_SIG_BYTES])
{
	const struct fl_sign_key *k = ctx;
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char der[ECDSA_DER_MAX];
	const unsigned char *p = der;
	size_t der_len = sizeof(der);
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;
	int err = FL_ECRYPTO;

	if (k == NULL || digest == NULL || sig == NULL)
		return FL_EINVAL;
	if (!k->is_private)
		return FL_ESTATE;
	pctx = EVP_PKEY_CTX_new(k->pkey, NULL);
	if (pctx == NULL || EVP_PKEY_sign_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_sign(pctx, der, &der_len, digest, FL_SHA256_BYTES) != 1)
		goto out;
	es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (es == NULL)
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, 32) != 32 ||
	    BN_bn2binpad(s, sig + 32, 32) != 32)
		goto out;
	err = 0;
out:
	if (err != 0)
		ERR_clear_error();
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(pctx);
	return err;
}

int fl_sign_key_seal(const struct fl_sign_key *k, struct fl_manifest_env *env,
		     const struct fl_manifest *m)
{
	if (k == NULL || env == NULL || m == NULL)
		return FL_EINVAL;
	if (!k->is_private)
		return FL_ESTATE;
	return fl_manifest_seal(env, m, k->kid, &fl_crypto_openssl,
				fl_sign_key_sign_digest, (void *)k);
}

int fl_sign_key_seal_certified(const struct fl_sign_key *k,
			       struct fl_manifest_env *env,
			       const struct fl_manifest *m,
			       const uint8_t cert[FL_CERT_BYTES])
{
	struct fl_manifest_cert dec;

	if (k == NULL || env == NULL || m == NULL || cert == NULL)
		return FL_EINVAL;
	if (!k->is_private)
		return FL_ESTATE;
	if (fl_manifest_cert_decode(&dec, cert) != 0 ||
	    memcmp(dec.pub, k->pub, sizeof(k->pub)) != 0)
		return FL_EINVAL;
	return fl_manifest_seal_certified(env, m, cert, &fl_crypto_openssl,
					  fl_sign_key_sign_digest, (void *)k);
}

int fl_sign_key_certify(const struct fl_sign_key *root,
			uint8_t out[FL_CERT_BYTES],
			struct fl_manifest_cert *cert)
{
	if (root == NULL || out == NULL || cert == NULL)
		return FL_EINVAL;
	if (!root->is_private)
		return FL_ESTATE;
	memcpy(cert->root_kid, root->kid, sizeof(root->kid));
	return fl_manifest_certify(out, cert, &fl_crypto_openssl,
				   fl_sign_key_sign_digest, (void *)root);
}

#define CERT_B64_LEN (((FL_CERT_BYTES + 2) / 3) * 4)

int fl_sign_cert_read(const char *path, uint8_t out[FL_CERT_BYTES],
		      struct fl_sign_diag *diag)
{
	struct fl_manifest_cert dec;
	char buf[CERT_B64_LEN + 8];
	size_t n, got = 0;
	FILE *f;

	if (path == NULL || out == NULL)
		return FL_EINVAL;
	f = fopen(path, "re");
	if (f == NULL) {
		int rc = errno == ENOENT ? FL_ENOENT : FL_EIO;

		say(diag, "%s: %s", path, strerror(errno));
		return rc;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n != CERT_B64_LEN ||
	    fl_base64_decode(out, FL_CERT_BYTES, &got, buf, n) != 0 ||
	    got != FL_CERT_BYTES || fl_manifest_cert_decode(&dec, out) != 0) {
		memset(out, 0, FL_CERT_BYTES);
		say(diag, "%s: not a key certificate", path);
		return FL_EINVAL;
	}
	return 0;
}

int fl_sign_cert_write(const char *path, const uint8_t cert[FL_CERT_BYTES],
		       struct fl_sign_diag *diag)
{
	char text[CERT_B64_LEN + 1], tmp[4096], dir[4096];
	char *slash;
	FILE *f;
	int fd, n;

	if (path == NULL || cert == NULL)
		return FL_EINVAL;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp) ||
	    fl_base64_encode(text, sizeof(text), NULL, cert, FL_CERT_BYTES))
		return FL_EINVAL;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd < 0) {
		say(diag, "%s: %s", tmp, strerror(errno));
		return FL_EIO;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		(void)unlink(tmp);
		say(diag, "%s: %s", tmp, strerror(errno));
		return FL_EIO;
	}
	if (fprintf(f, "%s\n", text) < 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		fclose(f);
		(void)unlink(tmp);
		say(diag, "%s: write failed", tmp);
		return FL_EIO;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		(void)unlink(tmp);
		say(diag, "%s: %s", path, strerror(errno));
		return FL_EIO;
	}
	(void)snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		(void)snprintf(dir, sizeof(dir), ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		if (fd >= 0)
			close(fd);
		say(diag, "%s: cannot sync", dir);
		return FL_EIO;
	}
	close(fd);
	return 0;
}
