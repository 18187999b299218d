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
 *   crl.pem                 the certificate revocation list, signed by the
 *                           CA (the broker's crlfile)
 *   issued                  every client certificate issued: one line
 *                           "ID SERIAL NOT-AFTER ISSUED" each (appended)
 *   pki.lock                taken (flock) around every change of those two
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

#define FLD_PKI_PATH_MAX       1024
#define FLD_PKI_HOSTS_MAX      16  /* host names given for the server */
#define FLD_PKI_HOST_MAX       253 /* one DNS name */
#define FLD_PKI_CN_MAX	       64  /* a certificate's common name */
#define FLD_PKI_PEM_MAX	       (64u * 1024u)
#define FLD_PKI_CA_DAYS	       3650u /* the fleet CA: 10 years */
#define FLD_PKI_SRV_DAYS       825u  /* the server certificate */
#define FLD_PKI_DEV_DAYS       3650u /* device and client certificates */
#define FLD_PKI_WARN_DAYS      30u   /* fleetd warns this close to expiry */
#define FLD_PKI_BATCH_MAX      100000u
#define FLD_PKI_CRL_DAYS       30u     /* a CRL's validity (its next update) */
#define FLD_PKI_CRL_RENEW_DAYS 15u     /* re-signed when fewer days are left */
#define FLD_PKI_REVOKED_MAX    100000u /* serials in the CRL */
#define FLD_PKI_INDEX_MAX      (128u * 1024u * 1024u) /* the index's bytes */
#define FLD_PKI_CRL_MAX	       (16u * 1024u * 1024u)  /* crl.pem's bytes */
#define FLD_PKI_PER_ID_MAX     64u /* certificates of one id revoked at once */
#define FLD_PKI_SERIAL_MAX     41u /* a serial in hex (20 bytes), NUL */

struct fld_pki_diag {
	char msg[FLD_PKI_PATH_MAX + 256];
};

/* The paths of DATA/pki/ and its files. */
struct fld_pki_paths {
	char dir[FLD_PKI_PATH_MAX];
	char ca_key[FLD_PKI_PATH_MAX], ca_crt[FLD_PKI_PATH_MAX];
	char srv_key[FLD_PKI_PATH_MAX], srv_crt[FLD_PKI_PATH_MAX];
	char cli_key[FLD_PKI_PATH_MAX], cli_crt[FLD_PKI_PATH_MAX];
	char crl[FLD_PKI_PATH_MAX], issued[FLD_PKI_PATH_MAX];
	char lock[FLD_PKI_PATH_MAX];
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
 * (the key 0600). A client certificate is first recorded in the index
 * (DATA/pki/issued) of the paths ca was loaded from, so that it can be
 * revoked by its id; a crash before its files are written leaves a line
 * for a certificate nobody holds, which is harmless. Refuses (FL_ESTATE) when
 * either file exists and !is_force; FL_EINVAL for a common name or host that
 * cannot be written (empty, too long, a character other than [A-Za-z0-9.@_-] in
 * a CN or [A-Za-z0-9.-] in a host name, not an address). FL_EIO, FL_ECRYPTO,
 * FL_ENOMEM; with *diag.
 */
int fld_pki_issue(const struct fld_pki_ca *ca, const struct fld_pki_req *req,
		  struct fld_pki_diag *diag);

/*
 * Checks a pair fld_pki_issue wrote: the key belongs to the certificate,
 * ca issued it, it has not expired. *days_left (may be NULL) gets the
 * whole days before it expires; cn (may be NULL) its common name, cap
 * bytes. Returns 0; FL_ESTATE (not a pair, another CA's, expired: *diag
 * says which and, from fix, how to mend it), FL_ECORRUPT, or an error of
 * reading either file.
 */
int fld_pki_check_pair(const struct fld_pki_ca *ca, const char *key_path,
		       const char *crt_path, const char *fix, int *days_left,
		       char *cn, size_t cap, struct fld_pki_diag *diag);

/* ---- revocation ----------------------------------------------------------
 *
 * The CRL (crl.pem) lists the serials of revoked certificates; the broker
 * refuses a client certificate listed there. It is valid until its next
 * update (FLD_PKI_CRL_DAYS after it was signed): past that date OpenSSL
 * refuses every client, so fleetd re-signs it, same list, when fewer than
 * FLD_PKI_CRL_RENEW_DAYS are left (at start and daily). Every change
 * (a revocation, a re-signing) reads and rewrites the whole CRL under
 * pki.lock, written like every other file here (temporary file, fsync,
 * rename, fsync of the folder).
 */

/* What a CRL holds, for fleetd to tell what changed. */
struct fld_pki_crl_state {
	bool is_new;		  /* made now: there was none */
	bool is_resigned;	  /* re-signed now: it was about to lapse */
	int64_t next_update;	  /* Unix seconds */
	size_t n_revoked;	  /* serials listed */
	unsigned char digest[32]; /* SHA-256 of the serials listed: the same
				     after a re-signing, another after a
				     revocation */
};

/*
 * Makes the CRL when there is none (empty), checks it (PEM, signed by ca,
 * at most FLD_PKI_REVOKED_MAX serials) and re-signs it when its next
 * update is fewer than renew_days after now (or past). *st says what it
 * holds afterwards. Returns 0, FL_ECORRUPT (not a CRL, not signed by the
 * fleet CA: the diag says what to do), FL_ETOOBIG, FL_EIO, FL_ECRYPTO,
 * FL_ENOMEM; with *diag. Nothing is written on an error.
 */
int fld_pki_crl_check(const struct fld_pki_ca *ca,
		      const struct fld_pki_paths *p, int64_t now,
		      unsigned renew_days, struct fld_pki_crl_state *st,
		      struct fld_pki_diag *diag);

/*
 * Re-signs the CRL now, whatever its next update, with the same serials
 * and a next update days after now (`fleetd pki crl`). The errors of
 * fld_pki_crl_check, and FL_ENOENT when there is no CRL yet.
 */
int fld_pki_crl_resign(const struct fld_pki_ca *ca,
		       const struct fld_pki_paths *p, int64_t now,
		       unsigned days, struct fld_pki_crl_state *st,
		       struct fld_pki_diag *diag);

/* What to revoke: exactly one of the three. */
struct fld_pki_revoke_req {
	const char *id;	      /* every certificate the index has for id */
	const char *serial;   /* a serial in hex (as `fleetd pki list`) */
	const char *crt_path; /* the certificate in this PEM file (it must
				 be the fleet CA's) */
	int64_t now;	      /* the revocation date, and the CRL's */
};

struct fld_pki_revoke_res {
	size_t n_new;	  /* serials added to the CRL */
	size_t n_already; /* serials it listed already */
	char serials[FLD_PKI_PER_ID_MAX][FLD_PKI_SERIAL_MAX]; /* those of
				     id, n_new + n_already of them */
};

/*
 * Adds the certificates of req to the CRL and re-signs it (valid
 * FLD_PKI_CRL_DAYS from req->now). When every one is listed already
 * nothing is written (res->n_new is 0). fleetd's own client certificate
 * is refused. Returns 0, FL_EINVAL (not a name, a serial or a
 * certificate; fleetd's own), FL_ENOENT (the index knows no certificate
 * of id), FL_ECORRUPT (the index or the CRL is damaged, or the
 * certificate is another CA's), FL_ETOOBIG (more than
 * FLD_PKI_PER_ID_MAX certificates for id, or a full CRL), FL_EIO,
 * FL_ECRYPTO, FL_ENOMEM; with *diag. Nothing is changed on an error.
 */
int fld_pki_revoke(const struct fld_pki_ca *ca, const struct fld_pki_paths *p,
		   const struct fld_pki_revoke_req *req,
		   struct fld_pki_revoke_res *res, struct fld_pki_diag *diag);

/* One issued certificate, as fld_pki_list gives it. */
struct fld_pki_issued {
	char cn[FLD_PKI_CN_MAX];
	char serial[FLD_PKI_SERIAL_MAX];
	int64_t not_after, issued; /* Unix seconds */
	bool is_revoked;
};

/*
 * Calls each for every line of the index, oldest first, with its state
 * in the CRL (read, not changed: checked against ca.crt), then fills *st
 * (NULL: not wanted). Returns 0, FL_ENOENT (no CA), FL_ECORRUPT (a
 * damaged index or CRL: the diag names the line), FL_EIO, FL_ENOMEM.
 */
int fld_pki_list(const struct fld_pki_paths *p,
		 void (*each)(void *ctx, const struct fld_pki_issued *c),
		 void *ctx, struct fld_pki_crl_state *st,
		 struct fld_pki_diag *diag);

/* What fld_pki_ensure found and made. */
struct fld_pki_state {
	bool is_ca_new, is_srv_new, is_cli_new;
	char client_cn[FLD_PKI_CN_MAX]; /* fleetd's identity on the broker */
	int srv_days_left;		/* the server certificate's */
	struct fld_pki_crl_state crl;
};

/*
 * What fleetd does at every start without --insecure: creates what is
 * missing (the CA when neither of its files exists, the server
 * certificate for hosts, fleetd's client certificate as CN
 * fleetd@HOSTNAME, an empty CRL), then checks everything: each file
 * readable and PEM, each key matching its certificate, both certificates
 * issued by the CA, neither expired; the CRL as fld_pki_crl_check (which
 * re-signs it when it is about to lapse). Returns 0, FL_ESTATE (half a CA, a
 * certificate of another CA, an expired one: the diag says what to run), or the
 * errors of fld_pki_ca_load and fld_pki_issue.
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
