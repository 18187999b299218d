/*
 * fl_mbedtls_config.h -- the Mbed TLS configuration a firmware gives the
 * crypto port (common/mbedtls/crypto_mbedtls.c), used by the freestanding
 * cross-build to compile the port against Mbed TLS's headers: SHA-256,
 * bignums, P-256, ECDSA and ECDH, AES-256-GCM, and nothing that needs an
 * OS (no file I/O, no time, no entropy source: the port verifies and
 * decrypts). Selected with
 * MBEDTLS_CONFIG_FILE; Mbed TLS 2.28 and 3.x.
 */
#ifndef FL_MBEDTLS_CONFIG_H
#define FL_MBEDTLS_CONFIG_H

#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_NO_INTERNAL_RNG /* ECDH brings its own blinding */
#define MBEDTLS_ECDSA_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER
/* Encrypted images: AES-256-GCM and ECDH (the key wrap). */
#define MBEDTLS_AES_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_GCM_C
#define MBEDTLS_ECDH_C

/* 2.x checks the configuration here; 3.x's build_info.h does it itself. */
#if !defined(MBEDTLS_BUILD_INFO_H)
#include "mbedtls/check_config.h"
#endif

#endif
