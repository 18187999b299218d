/*
 * pki.h -- the fleet's public-key infrastructure: one fleet CA (EC P-256,
 * X.509) that issues the server certificate (the embedded broker's TLS
 * listener and fleetd's HTTPS), fleetd's own MQTT client certificate, and
 * one client certificate per device (CN = the device id). The broker pins
 * each device to its own topics by that CN (broker.c, the ACL file).
 *
 * Files, in DATA/pki/ (created 0700):
 *
 *   ca.key, ca.crt          the fleet CA (the key 0600)
 *   server.key, server.crt  TLS server: SANs localhost, 127.0.0.1, ::1 and
 *                           the host names given
 *   fleetd.key, fleetd.crt  fleetd's MQTT client identity (CN fleetd@HOST)
 *
 * Device certificates are written where the operator asks (ID.key 0600,
 * ID.crt). Every file is written atomically: a temporary file created
 * 0600 or 0644 with O_EXCL, written, fsynced, then renamed over (or, when
 * replacing is not allowed, linked: an existing file is never replaced)
 * and the directory fsynced. A key is written before its certificate;
 * a crash between the two leaves a pair that fld_pki_check() reports.
 *
 * Private to fleetd; not thread-safe (OpenSSL's own locking aside).
 */
#ifndef FLD_PKI_H
#define FLD_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLD_PKI_PATH_MAX  1024
#define FLD_PKI_HOSTS_MAX 16  /* host names given for the server */
#define FLD_PKI_HOST_MAX  253 /* one DNS name */
#define FLD_PKI_CN_MAX	  64  /* a certificate's common name */
#define FLD_PKI_PEM_MAX	  (64u * 1024u)
#define FLD_PKI_CA_DAYS	  3650u /* the fleet CA: 10 years */
#define FLD_PKI_SRV_DAYS  825u	/* the server certificate */
#define FLD_PKI_DEV_DAYS  3650u /* device and client certificates */
#define FLD_PKI_WARN_DAYS 30u	/* fleetd warns this close to expiry */
#define FLD_PKI_BATCH_MAX 100000u

struct fld_pki_diag {
	char msg[FLD_PKI_PATH_MAX + 256];
};

/* The paths of DATA/pki/ and its files. */
struct fld_pki_paths {
	char dir[FLD_PKI_PATH_MAX];
	char ca_key[FLD_PKI_PATH_MAX], ca_crt[FLD_PKI_PATH_MAX];
	char srv_key[FLD_PKI_PATH_MAX], srv_crt[FLD_PKI_PATH_MAX];
	char cli_key[FLD_PKI_PATH_MAX], cli_crt[FLD_PKI_PATH_MAX];
};

/* Fills p for the data directory data. FL_EINVAL: the paths are too long. */
int fld_pki_paths(struct fld_pki_paths *p, const char *data);

/* Creates DATA/pki/ (0700) if missing. FL_EIO with *diag. */
int fld_pki_mkdir(const struct fld_pki_paths *p, struct fld_pki_diag *diag);

/*
 * Creates the fleet CA (a new key, a self-signed certificate valid for
 * days). Refuses (FL_ESTATE) when ca.key or ca.crt exists, unless
 * is_force. Returns 0, FL_ESTATE, FL_EIO (cannot write), FL_ECRYPTO,
 * with *diag.
 */
int fld_pki_make_ca(const struct fld_pki_paths *p, unsigned days, bool is_force,
		    struct fld_pki_diag *diag);

/* The fleet CA, loaded to issue certificates. */
struct fld_pki_ca;

/*
 * Loads ca.crt and ca.key of p, checks that they belong together and that
 * nobody but the owner may read the key. *out is the caller's
 * (fld_pki_ca_free). Returns 0, FL_ENOENT (no CA: "create it with fleetd
 * pki init"), FL_EIO (unreadable), FL_ECORRUPT (not PEM, not P-256, a key
 * that does not match), FL_ESTATE (the key is readable by others),
 * FL_ENOMEM, with *diag.
 */
int fld_pki_ca_load(struct fld_pki_ca **out, const struct fld_pki_paths *p,
		    struct fld_pki_diag *diag);
void fld_pki_ca_free(struct fld_pki_ca *ca);

enum fld_pki_kind {
	FLD_PKI_SERVER, /* serverAuth, SANs */
	FLD_PKI_CLIENT, /* clientAuth: devices, fleetd, tools */
};

struct fld_pki_req {
	enum fld_pki_kind kind;
	const char *cn;		  /* common name: the device id for devices */
	const char *const *hosts; /* FLD_PKI_SERVER: extra SANs (names or
				     addresses) beyond the loopback ones */
	size_t n_hosts;
	unsigned days;
	const char *key_path, *crt_path; /* where to write */
	bool is_force;			 /* replace existing files */
};

/*
 * Makes a new key and a certificate for it signed by ca, and writes both
 * (the key 0600). Refuses (FL_ESTATE) when either file exists and
 * !is_force; FL_EINVAL for a common name or host that cannot be written
 * (empty, too long, a character other than [A-Za-z0-9.@_-] in a CN or
 * [A-Za-z0-9.-] in a host name, not an address). FL_EIO, FL_ECRYPTO,
 * FL_ENOMEM; with *diag.
 */
int fld_pki_issue(const struct fld_pki_ca *ca, const struct fld_pki_req *req,
		  struct fld_pki_diag *diag);

/* What fld_pki_ensure found and made. */
struct fld_pki_state {
	bool is_ca_new, is_srv_new, is_cli_new;
	char client_cn[FLD_PKI_CN_MAX]; /* fleetd's identity on the broker */
	int srv_days_left;		/* the server certificate's */
};

/*
 * What fleetd does at every start without --insecure: creates what is
 * missing (the CA when neither of its files exists, the server
 * certificate for hosts, fleetd's client certificate as CN
 * fleetd@HOSTNAME), then checks everything: each file readable and PEM,
 * each key matching its certificate, both certificates issued by the CA,
 * neither expired. Returns 0, FL_ESTATE (half a CA, a certificate of
 * another CA, an expired one: the diag says what to run), or the errors
 * of fld_pki_ca_load and fld_pki_issue.
 */
int fld_pki_ensure(const struct fld_pki_paths *p, struct fld_pki_state *st,
		   struct fld_pki_diag *diag);

/* Reads a PEM file (at most FLD_PKI_PEM_MAX bytes) into a NUL-terminated
 * buffer *out (the caller's, free()). FL_ENOENT, FL_EIO, FL_ETOOBIG,
 * FL_ENOMEM with *diag. */
int fld_pki_read(const char *path, char **out, struct fld_pki_diag *diag);

/* Whether a common name is one fld_pki_issue accepts. */
bool fld_pki_cn_ok(const char *cn);

#endif
