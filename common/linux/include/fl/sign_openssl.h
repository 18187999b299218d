/*
 * sign_openssl.h -- P-256 signing keys on OpenSSL 3, shared by everything
 * that signs manifests: the fleet-manifest tool and fleetd's signer.
 *
 * A struct fl_sign_key holds one P-256 key (private, or public only) with
 * its 65-byte uncompressed public point and its kid (docs/formats.md,
 * "Signed manifest"). Keys are made here, read from and written to PEM,
 * and seal manifests through the same codec the devices verify with
 * (fl_manifest_seal, fl_proto): OpenSSL only makes keys and signatures.
 * Devices never sign; they verify through the crypto port
 * (fl/crypto_openssl.h, fl/crypto.h).
 *
 * Errors are fl_err codes; a caller-owned struct fl_sign_diag (may be
 * NULL) receives a one-line reason. A key is the caller's once returned
 * (fl_sign_key_free). Thread-safe as OpenSSL is: a key may be used by one
 * thread at a time.
 */
#ifndef FL_SIGN_OPENSSL_H
#define FL_SIGN_OPENSSL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fl/proto.h"

#define FL_SIGN_PUB_HEX_MAX (2 * FL_MANIFEST_PUB_BYTES + 1)
#define FL_SIGN_KID_HEX_MAX (2 * FL_MANIFEST_KID_BYTES + 1)

struct fl_sign_key;

struct fl_sign_diag {
	char msg[256];
};

/* Makes a new P-256 private key. Returns 0, FL_ECRYPTO, FL_ENOMEM. */
int fl_sign_key_generate(struct fl_sign_key **out, struct fl_sign_diag *diag);

/*
 * Reads a PEM key from f (`name` names it in messages): a private key, or,
 * unless is_private_required, a public key ("PUBLIC KEY"). The key must be
 * on P-256. Returns 0, FL_EINVAL ("NAME: not a PEM private key", "NAME:
 * not a P-256 key"), FL_ECRYPTO.
 */
int fl_sign_key_read_pem(struct fl_sign_key **out, FILE *f, const char *name,
			 bool is_private_required, struct fl_sign_diag *diag);

/* fl_sign_key_read_pem() on the file at path. Also FL_ENOENT (no such
 * file) and FL_EIO (cannot open it: "PATH: <strerror>"). */
int fl_sign_key_load_pem(struct fl_sign_key **out, const char *path,
			 bool is_private_required, struct fl_sign_diag *diag);

/* Writes the private key as PEM (PKCS#8, unencrypted) to f; does not
 * flush. Returns 0, FL_ESTATE (a public key only), FL_EIO. */
int fl_sign_key_write_pem(const struct fl_sign_key *k, FILE *f);

/* Accepts NULL. */
void fl_sign_key_free(struct fl_sign_key *k);

bool fl_sign_key_is_private(const struct fl_sign_key *k);

/* The 65-byte public point (04 || X || Y) and the 8-byte kid, borrowed
 * for the key's life. */
const uint8_t *fl_sign_key_pub(const struct fl_sign_key *k);
const uint8_t *fl_sign_key_kid(const struct fl_sign_key *k);

/* The public point as 130 lower-case hex digits: the trusted-key form
 * devices read (fl_manifest_key_parse, `fleet-manifest pubkey`), and the
 * kid as 16. Never fail with buffers of the sizes above. */
void fl_sign_key_pub_hex(const struct fl_sign_key *k,
			 char out[FL_SIGN_PUB_HEX_MAX]);
void fl_sign_key_kid_hex(const struct fl_sign_key *k,
			 char out[FL_SIGN_KID_HEX_MAX]);

/* A fl_manifest_sign_fn: ctx is a const struct fl_sign_key with a private
 * key. ECDSA over the given SHA-256 digest, r || s. Returns 0, FL_ESTATE
 * (a public key), FL_ECRYPTO. */
int fl_sign_key_sign_digest(void *ctx, const uint8_t digest[FL_SHA256_BYTES],
			    uint8_t sig[FL_MANIFEST_SIG_BYTES]);

/* fl_manifest_seal() with this key (its kid, OpenSSL's SHA-256). Returns
 * 0, FL_ESTATE (a public key), the errors of fl_manifest_seal(). */
int fl_sign_key_seal(const struct fl_sign_key *k, struct fl_manifest_env *env,
		     const struct fl_manifest *m);

/* fl_manifest_seal_certified() with this key: an envelope 2 carrying cert,
 * which must certify this key. Returns 0, FL_ESTATE (a public key),
 * FL_EINVAL (cert is malformed or certifies another key), the errors of
 * fl_manifest_seal_certified(). */
int fl_sign_key_seal_certified(const struct fl_sign_key *k,
			       struct fl_manifest_env *env,
			       const struct fl_manifest *m,
			       const uint8_t cert[FL_CERT_BYTES]);

/* Certifies a signing key with root (a private key): fl_manifest_certify()
 * with cert->root_kid set to root's kid. Returns its errors, or FL_ESTATE
 * (root is a public key). */
int fl_sign_key_certify(const struct fl_sign_key *root,
			uint8_t out[FL_CERT_BYTES],
			struct fl_manifest_cert *cert);

/* A certificate file: the 212 base64 characters of the certificate's 159
 * bytes (as in an envelope's "cert"), then a newline. write creates or
 * replaces path through PATH.tmp (fsynced, renamed, the directory
 * fsynced), mode 0644. read checks the layout (fl_manifest_cert_decode),
 * not the signature. Return 0, FL_ENOENT (read: no such file), FL_EINVAL
 * (not a certificate), FL_EIO, with the reason in diag. */
int fl_sign_cert_read(const char *path, uint8_t out[FL_CERT_BYTES],
		      struct fl_sign_diag *diag);
int fl_sign_cert_write(const char *path, const uint8_t cert[FL_CERT_BYTES],
		       struct fl_sign_diag *diag);

#endif
