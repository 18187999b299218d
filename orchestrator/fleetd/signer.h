/*
 * signer.h -- the fleet signing key: the one P-256 key with which fleetd
 * seals every manifest it offers, and whose public half every device
 * trusts.
 *
 * The key lives in DATA/keys/signing.pem (PEM, PKCS#8), mode 0600, in a
 * directory of mode 0700. It is created on first start and loaded on every
 * later one; a key file that group or others may read is refused (it may
 * have been copied: the operator must check and chmod 600 it). The public
 * key is also written to DATA/keys/signing.pub as the line devices read
 * (130 hex digits, what `fleet-manifest pubkey` prints), for provisioning.
 *
 * The signer implements the runner's signing port (struct
 * fl_runner_sign_ops in runner.h): fl_manifest_seal with OpenSSL ECDSA,
 * or fl_manifest_seal_certified when the key has a certificate from the
 * fleet's root (DATA/keys/<kid>.cert: `fleetd keys`, docs/security.md).
 *
 * Errors of fl_signer_open() also include FL_ESTATE for a certificate
 * that certifies another key or has ended.
 *
 * Not thread-safe: one thread (fleetd's loop) uses a signer.
 */
#ifndef FL_FLEETD_SIGNER_H
#define FL_FLEETD_SIGNER_H

#include "fl/proto.h"
#include "fl/sign_openssl.h"
#include "runner.h"

#define FL_SIGNER_PATH_MAX 1024

struct fl_signer;

/* A one-line reason for a refusal, for fleetd's log and stderr. */
struct fl_signer_diag {
	char msg[FL_SIGNER_PATH_MAX + 256];
};

/*
 * Opens the signing key under data_dir (which must exist): loads
 * DATA/keys/signing.pem, or creates it when it does not exist (written to
 * a temporary file created 0600 with O_EXCL, fsynced, renamed into place
 * without ever replacing an existing key, directory fsynced). *out is the
 * caller's (fl_signer_free). Returns 0, FL_EINVAL (a path too long; the
 * key file is not a P-256 private key), FL_ESTATE (the key file or its
 * directory is open to group or others, or not a regular file or
 * directory), FL_EIO, FL_ECRYPTO, FL_ENOMEM, with *diag filled.
 */
int fl_signer_open(struct fl_signer **out, const char *data_dir,
		   struct fl_signer_diag *diag);

/* Accepts NULL. */
void fl_signer_free(struct fl_signer *s);

/* The key, borrowed for the signer's life. */
const struct fl_sign_key *fl_signer_key(const struct fl_signer *s);

/* Whether fl_signer_open() created the key (first start). */
bool fl_signer_is_new(const struct fl_signer *s);

/* The path of the key file. */
const char *fl_signer_path(const struct fl_signer *s);

/* The signing key's certificate (DATA/keys/<kid>.cert, written by
 * `fleetd keys`), borrowed; NULL when the key is not certified. */
const uint8_t *fl_signer_cert(const struct fl_signer *s);

/* The runner's signing port; ctx is the struct fl_signer: an envelope 2
 * with the certificate when there is one, else an envelope 1. Returns 0,
 * the errors of fl_manifest_seal() or fl_manifest_seal_certified(). */
int fl_signer_seal(void *ctx, struct fl_manifest_env *env,
		   const struct fl_manifest *m);

extern const struct fl_runner_sign_ops fl_signer_sign_ops;

#endif
