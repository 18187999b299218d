/*
 * crypto_openssl.h -- the OpenSSL 3 crypto port (Linux agent, fleetd, tools).
 *
 * SHA-256 runs on OpenSSL's low-level SHA256_CTX kept inside the caller's
 * struct fl_hash_ctx, so hashing never allocates; P-256 verification builds
 * a temporary EVP_PKEY and allocates (it runs once per image, outside the
 * install write loop). Thread-safe: the table holds no state.
 */
#ifndef FL_CRYPTO_OPENSSL_H
#define FL_CRYPTO_OPENSSL_H

#include "fl/crypto.h"

extern const struct fl_crypto_ops fl_crypto_openssl;

/*
 * Makes OpenSSL ready for P-256 verification (its first one in a process
 * costs milliseconds, later ones about 0.1 ms) by checking a known answer:
 * a daemon calls it at its start so that its first offer does not pay
 * that. Returns 0; FL_EVERIFY if the known signature does not verify (the
 * port is broken: no manifest would verify either); FL_ECRYPTO if OpenSSL
 * fails.
 */
int fl_crypto_openssl_warm_up(void);

#endif
