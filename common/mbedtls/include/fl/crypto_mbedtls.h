/*
 * crypto_mbedtls.h -- the Mbed TLS crypto port (microcontrollers; also built
 * and tested on the host against the same vectors as the OpenSSL port).
 *
 * SHA-256 keeps mbedtls_sha256_context inside the caller's struct
 * fl_hash_ctx and never allocates; P-256 verification allocates its bignums
 * through Mbed TLS's calloc and frees them before returning. Builds against
 * Mbed TLS 2.28 and 3.x. Thread-safe: the table holds no state.
 */
#ifndef FL_CRYPTO_MBEDTLS_H
#define FL_CRYPTO_MBEDTLS_H

#include "fl/crypto.h"

extern const struct fl_crypto_ops fl_crypto_mbedtls;

#endif
