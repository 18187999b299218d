/*
 * pki_priv.h -- what pki.c (the CA, certificates) shares with pki_crl.c
 * (the index of issued certificates and the revocation list). Private to
 * those two files.
 */
#ifndef FLD_PKI_PRIV_H
#define FLD_PKI_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki.h"

struct fld_pki_ca {
	X509 *crt;
	EVP_PKEY *key;
	char issued[FLD_PKI_PATH_MAX]; /* the index client certificates go to */
	char lock[FLD_PKI_PATH_MAX];   /* pki.lock */
};

/* Writes len bytes to path as pki.h says (temporary file, fsync, rename
 * or link, fsync of the folder). FL_EINVAL, FL_ESTATE (exists and
 * !is_force), FL_EIO; with *diag. */
int fld_pki__write_atomic(const char *path, const void *data, size_t len,
			  mode_t mode, bool is_force,
			  struct fld_pki_diag *diag);

/* fsync of the folder holding path. 0 or FL_EIO. */
int fld_pki__fsync_dir_of(const char *path);

/* A PEM certificate from path; NULL with *rc and *diag on failure. */
X509 *fld_pki__load_crt(const char *path, struct fld_pki_diag *diag, int *rc);

/* Records a client certificate just signed in the index (pki_crl.c). */
int fld_pki__record(const struct fld_pki_ca *ca, const char *cn, const X509 *x,
		    struct fld_pki_diag *diag);

/* Writes an empty CRL signed by key for the CA x and an empty index,
 * replacing both: a new CA starts with nothing revoked (pki_crl.c). */
int fld_pki__fresh_crl(const struct fld_pki_paths *p, X509 *x, EVP_PKEY *key,
		       struct fld_pki_diag *diag);

#endif
