/*
 * pki.c -- the fleet CA and the certificates it issues (pki.h), on
 * OpenSSL's libcrypto: EC P-256 keys (PKCS#8 PEM), X.509 v3 certificates
 * signed with ECDSA-SHA256, random 128-bit serial numbers.
 *
 * Method: every certificate carries what a verifier needs to refuse it in
 * the wrong role. The CA: basicConstraints CA:TRUE with pathlen 0 (it
 * signs end certificates only) and keyUsage keyCertSign, cRLSign. End
 * certificates: CA:FALSE, keyUsage digitalSignature, and an extended key
 * usage of serverAuth or clientAuth alone, so that a device's certificate
 * can never serve as the broker's or fleetd's (OpenSSL's and GnuTLS's
 * clients check the purpose). notBefore is five minutes in the past, so
 * that a device whose clock lags a little accepts a fresh certificate.
 *
 * Files are written as pki.h says: a temporary file beside the target
 * (O_EXCL, its final mode from the start, so a key is never readable by
 * others even for an instant), fsync, then rename() when replacing is
 * allowed or link() when it is not (link never replaces: a file another
 * process made meanwhile is kept and the call refused), and an fsync of
 * the directory.
 */
#include "pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fl/err.h"
#include "pki_priv.h"

#define SKEW_S	 300 /* notBefore this far in the past */
#define SAN_MAX	 (FLD_PKI_HOSTS_MAX * (FLD_PKI_HOST_MAX + 8) + 128)
#define DAYS_MAX 36500u

__attribute__((format(printf, 3, 4))) static int
fail(struct fld_pki_diag *diag, int err, const char *fmt, ...)
{
	va_list ap;

	if (diag != NULL) {
		va_start(ap, fmt);
		vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

/* OpenSSL's last error, for a diagnostic. */
static const char *ossl_why(void)
{
	static char buf[200];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		return "no detail";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static int join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, FLD_PKI_PATH_MAX, "%s/%s", dir, name);

	return n < 0 || n >= FLD_PKI_PATH_MAX ? FL_EINVAL : 0;
}

int fld_pki_paths(struct fld_pki_paths *p, const char *data)
{
	memset(p, 0, sizeof(*p));
	if (join(p->dir, data, "pki") != 0 ||
	    join(p->ca_key, p->dir, "ca.key") != 0 ||
	    join(p->ca_crt, p->dir, "ca.crt") != 0 ||
	    join(p->srv_key, p->dir, "server.key") != 0 ||
	    join(p->srv_crt, p->dir, "server.crt") != 0 ||
	    join(p->cli_key, p->dir, "fleetd.key") != 0 ||
	    join(p->cli_crt, p->dir, "fleetd.crt") != 0 ||
	    join(p->crl, p->dir, "crl.pem") != 0 ||
	    join(p->issued, p->dir, "issued") != 0 ||
	    join(p->lock, p->dir, "pki.lock") != 0)
		return FL_EINVAL;
	return 0;
}

int fld_pki__fsync_dir_of(const char *path)
{
	char dir[FLD_PKI_PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash != NULL ? (size_t)(slash - path) : 0;
	int fd, rc = 0;

	if (n == 0) {
		dir[0] = slash != NULL ? '/' : '.';
		dir[1] = '\0';
	} else {
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return FL_EIO;
	if (fsync(fd) != 0)
		rc = FL_EIO;
	close(fd);
	return rc;
}

int fld_pki_mkdir(const struct fld_pki_paths *p, struct fld_pki_diag *diag)
{
	struct stat sb;

	if (mkdir(p->dir, 0700) == 0)
		return fld_pki__fsync_dir_of(p->dir) == 0
			       ? 0
			       : fail(diag, FL_EIO, "%s: cannot sync: %s",
				      p->dir, strerror(errno));
	if (errno != EEXIST || stat(p->dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return fail(diag, FL_EIO, "cannot create %s: %s", p->dir,
			    errno == EEXIST ? "not a directory"
					    : strerror(errno));
	return 0;
}

static bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* Writes len bytes to path as pki.h says. */
int fld_pki__write_atomic(const char *path, const void *data, size_t len,
			  mode_t mode, bool is_force, struct fld_pki_diag *diag)
{
	char tmp[FLD_PKI_PATH_MAX + 32];
	const char *p = data;
	size_t done = 0;
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return fail(diag, FL_EINVAL, "%s: path too long", path);
	(void)unlink(tmp); /* a leftover of a crashed run of this pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return fail(diag, FL_EIO, "cannot write %s: %s", path,
			    strerror(errno));
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = FL_EIO;
			break;
		}
		done += (size_t)n;
	}
	if (rc == 0 && (fchmod(fd, mode) != 0 || fsync(fd) != 0))
		rc = FL_EIO;
	if (close(fd) != 0)
		rc = FL_EIO;
	if (rc != 0) {
		(void)fail(diag, rc, "cannot write %s: %s", path,
			   strerror(errno));
		(void)unlink(tmp);
		return rc;
	}
	if (is_force) {
		if (rename(tmp, path) != 0)
			rc = fail(diag, FL_EIO, "cannot write %s: %s", path,
				  strerror(errno));
	} else if (link(tmp, path) != 0) {
		rc = errno == EEXIST
			     ? fail(diag, FL_ESTATE,
				    "%s exists (--force replaces it)", path)
			     : fail(diag, FL_EIO, "cannot write %s: %s", path,
				    strerror(errno));
	}
	(void)unlink(tmp);
	if (rc == 0 && fld_pki__fsync_dir_of(path) != 0)
		rc = fail(diag, FL_EIO, "%s: cannot sync its folder: %s", path,
			  strerror(errno));
	return rc;
}

int fld_pki_read(const char *path, char **out, struct fld_pki_diag *diag)
{
	struct stat sb;
	char *buf;
	size_t done = 0;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(diag, errno == ENOENT ? FL_ENOENT : FL_EIO,
			    "cannot read %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return fail(diag, FL_EIO, "cannot read %s: %s", path,
			    errno != 0 ? strerror(errno)
				       : "not a regular file");
	}
	if (sb.st_size > (off_t)FLD_PKI_PEM_MAX) {
		close(fd);
		return fail(diag, FL_ETOOBIG, "%s: larger than %u bytes", path,
			    FLD_PKI_PEM_MAX);
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return fail(diag, FL_ENOMEM, "out of memory");
	}
	while (done < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)sb.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	if (done != (size_t)sb.st_size) {
		free(buf);
		return fail(diag, FL_EIO, "cannot read %s: %s", path,
			    strerror(errno != 0 ? errno : EIO));
	}
	buf[done] = '\0';
	*out = buf;
	return 0;
}

/* ---- keys and certificates in memory ------------------------------------ */

static int pem_of_key(EVP_PKEY *key, char **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;

	if (b == NULL ||
	    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(b);
		return FL_ECRYPTO;
	}
	n = BIO_get_mem_data(b, &p);
	*out = n > 0 ? malloc((size_t)n) : NULL;
	if (*out != NULL)
		memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	BIO_free(b);
	return *out != NULL ? 0 : FL_ENOMEM;
}

static int pem_of_crt(X509 *x, char **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;

	if (b == NULL || PEM_write_bio_X509(b, x) != 1) {
		BIO_free(b);
		return FL_ECRYPTO;
	}
	n = BIO_get_mem_data(b, &p);
	*out = n > 0 ? malloc((size_t)n) : NULL;
	if (*out != NULL)
		memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	BIO_free(b);
	return *out != NULL ? 0 : FL_ENOMEM;
}

static bool is_p256(EVP_PKEY *key)
{
	char group[32];
	size_t n = 0;

	return EVP_PKEY_base_id(key) == EVP_PKEY_EC &&
	       EVP_PKEY_get_utf8_string_param(key, "group", group,
					      sizeof(group), &n) == 1 &&
	       strcmp(group, "prime256v1") == 0;
}

X509 *fld_pki__load_crt(const char *path, struct fld_pki_diag *diag, int *rc)
{
	char *pem = NULL;
	BIO *b;
	X509 *x = NULL;

	*rc = fld_pki_read(path, &pem, diag);
	if (*rc != 0)
		return NULL;
	b = BIO_new_mem_buf(pem, -1);
	if (b != NULL)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	free(pem);
	if (x == NULL)
		*rc = fail(diag, FL_ECORRUPT, "%s: not a PEM certificate (%s)",
			   path, ossl_why());
	return x;
}

static EVP_PKEY *load_key(const char *path, struct fld_pki_diag *diag, int *rc)
{
	char *pem = NULL;
	BIO *b;
	EVP_PKEY *k = NULL;

	*rc = fld_pki_read(path, &pem, diag);
	if (*rc != 0)
		return NULL;
	b = BIO_new_mem_buf(pem, -1);
	if (b != NULL)
		k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
	if (k == NULL) {
		*rc = fail(diag, FL_ECORRUPT, "%s: not a PEM private key (%s)",
			   path, ossl_why());
		return NULL;
	}
	if (!is_p256(k)) {
		EVP_PKEY_free(k);
		*rc = fail(diag, FL_ECORRUPT, "%s: not an EC P-256 key", path);
		return NULL;
	}
	return k;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok;

	if (e == NULL)
		return FL_ECRYPTO;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok == 1 ? 0 : FL_ECRYPTO;
}

static int set_serial(X509 *x)
{
	unsigned char r[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return FL_ECRYPTO;
	r[0] &= 0x7f; /* positive */
	r[0] |= 0x40; /* and never shorter than 16 bytes */
	bn = BN_bin2bn(r, sizeof(r), NULL);
	ok = bn != NULL &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : FL_ECRYPTO;
}

/* A certificate for key, subject CN cn, valid for days, not signed yet. */
static X509 *new_crt(EVP_PKEY *key, const char *cn, unsigned days)
{
	X509 *x = X509_new();
	X509_NAME *name = x != NULL ? X509_get_subject_name(x) : NULL;

	if (x == NULL || X509_set_version(x, 2) != 1 || set_serial(x) != 0 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -SKEW_S) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ==
		    NULL ||
	    X509_set_pubkey(x, key) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				       (const unsigned char *)cn, -1, -1,
				       0) != 1) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static EVP_PKEY *new_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* Writes key (0600) then certificate (0644). */
static int write_pair(EVP_PKEY *key, X509 *x, const char *key_path,
		      const char *crt_path, bool is_force,
		      struct fld_pki_diag *diag)
{
	char *kp = NULL, *cp = NULL;
	size_t kn = 0, cn = 0;
	int rc = pem_of_key(key, &kp, &kn);

	if (rc == 0)
		rc = pem_of_crt(x, &cp, &cn);
	if (rc != 0) {
		free(kp);
		free(cp);
		return fail(diag, rc, "cannot encode the key or certificate");
	}
	rc = fld_pki__write_atomic(key_path, kp, kn, 0600, is_force, diag);
	if (rc == 0)
		rc = fld_pki__write_atomic(crt_path, cp, cn, 0644, is_force,
					   diag);
	OPENSSL_cleanse(kp, kn);
	free(kp);
	free(cp);
	return rc;
}

static int refuse_existing(const char *a, const char *b, bool is_force,
			   struct fld_pki_diag *diag)
{
	if (is_force)
		return 0;
	if (exists(a))
		return fail(diag, FL_ESTATE, "%s exists (--force replaces it)",
			    a);
	if (exists(b))
		return fail(diag, FL_ESTATE, "%s exists (--force replaces it)",
			    b);
	return 0;
}

/* ---- names --------------------------------------------------------------- */

bool fld_pki_cn_ok(const char *cn)
{
	size_t n = cn != NULL ? strlen(cn) : 0;

	if (n == 0 || n >= FLD_PKI_CN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = cn[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '_' || c == '@'))
			return false;
	}
	return true;
}

static bool is_addr(const char *h)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, h, buf) == 1 ||
	       inet_pton(AF_INET6, h, buf) == 1;
}

static bool is_dns_name(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > FLD_PKI_HOST_MAX || h[0] == '.' || h[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* "DNS:localhost,IP:127.0.0.1,IP:::1", this machine's name and the hosts
 * given. */
static int san_of(const struct fld_pki_req *req, char *out, size_t cap,
		  struct fld_pki_diag *diag)
{
	char me[FLD_PKI_HOST_MAX + 1] = "";
	size_t n = (size_t)snprintf(out, cap,
				    "DNS:localhost,IP:127.0.0.1,"
				    "IP:::1");

	if (gethostname(me, sizeof(me)) == 0) {
		me[sizeof(me) - 1] = '\0';
		if (is_dns_name(me) && strcmp(me, "localhost") != 0)
			n += (size_t)snprintf(out + n, cap - n, ",DNS:%s", me);
	}

	if (req->n_hosts > FLD_PKI_HOSTS_MAX)
		return fail(diag, FL_EINVAL, "at most %d host names",
			    FLD_PKI_HOSTS_MAX);
	for (size_t i = 0; i < req->n_hosts; i++) {
		const char *h = req->hosts[i];
		bool is_ip = is_addr(h);

		if (!is_ip && !is_dns_name(h))
			return fail(diag, FL_EINVAL,
				    "host `%.100s`: not a host name "
				    "([A-Za-z0-9.-]) or an address",
				    h);
		if (strcmp(h, "localhost") == 0 ||
		    strcmp(h, "127.0.0.1") == 0 || strcmp(h, "::1") == 0 ||
		    strcmp(h, me) == 0)
			continue;
		n += (size_t)snprintf(out + n, cap - n, ",%s:%s",
				      is_ip ? "IP" : "DNS", h);
		if (n >= cap)
			return fail(diag, FL_EINVAL, "too many host names");
	}
	return 0;
}

/* ---- the CA -------------------------------------------------------------- */

int fld_pki_make_ca(const struct fld_pki_paths *p, unsigned days, bool is_force,
		    struct fld_pki_diag *diag)
{
	unsigned char r[4];
	char cn[FLD_PKI_CN_MAX];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509V3_CTX ctx;
	int rc;

	if (days == 0 || days > DAYS_MAX)
		return fail(diag, FL_EINVAL, "days: 1 to %u", DAYS_MAX);
	rc = refuse_existing(p->ca_key, p->ca_crt, is_force, diag);
	if (rc != 0)
		return rc;
	if (RAND_bytes(r, sizeof(r)) != 1)
		return fail(diag, FL_ECRYPTO, "no random bytes: %s",
			    ossl_why());
	/* A name of its own: a rotated CA is told apart from the old one. */
	snprintf(cn, sizeof(cn), "fleet CA %02x%02x%02x%02x", r[0], r[1], r[2],
		 r[3]);
	key = new_key();
	x = key != NULL ? new_crt(key, cn, days) : NULL;
	rc = x != NULL ? 0 : FL_ECRYPTO;
	if (rc == 0 && X509_set_issuer_name(x, X509_get_subject_name(x)) != 1)
		rc = FL_ECRYPTO;
	if (rc == 0) {
		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		rc = add_ext(x, &ctx, NID_basic_constraints,
			     "critical,CA:TRUE,pathlen:0");
	}
	if (rc == 0)
		rc = add_ext(x, &ctx, NID_key_usage,
			     "critical,keyCertSign,cRLSign");
	if (rc == 0)
		rc = add_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (rc == 0 && X509_sign(x, key, EVP_sha256()) <= 0)
		rc = FL_ECRYPTO;
	if (rc != 0)
		rc = fail(diag, rc, "cannot make the CA: %s", ossl_why());
	else
		rc = write_pair(key, x, p->ca_key, p->ca_crt, is_force, diag);
	/* A new CA revokes nothing, and knows no certificate yet. */
	if (rc == 0)
		rc = fld_pki__fresh_crl(p, x, key, diag);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int fld_pki_ca_load(struct fld_pki_ca **out, const struct fld_pki_paths *p,
		    struct fld_pki_diag *diag)
{
	struct fld_pki_ca *ca;
	struct stat sb;
	int rc = 0;

	*out = NULL;
	if (!exists(p->ca_crt) && !exists(p->ca_key))
		return fail(diag, FL_ENOENT,
			    "no fleet CA in %s (create it with `fleetd pki "
			    "init`)",
			    p->dir);
	ca = calloc(1, sizeof(*ca));
	if (ca == NULL)
		return fail(diag, FL_ENOMEM, "out of memory");
	memcpy(ca->issued, p->issued, sizeof(ca->issued));
	memcpy(ca->lock, p->lock, sizeof(ca->lock));
	ca->crt = fld_pki__load_crt(p->ca_crt, diag, &rc);
	if (rc == 0)
		ca->key = load_key(p->ca_key, diag, &rc);
	if (rc == 0 && stat(p->ca_key, &sb) == 0 && (sb.st_mode & 077) != 0)
		rc = fail(diag, FL_ESTATE,
			  "%s is readable by others (mode %03o): chmod 600 "
			  "it, and consider the CA compromised",
			  p->ca_key, (unsigned)(sb.st_mode & 0777));
	if (rc == 0 && X509_check_private_key(ca->crt, ca->key) != 1)
		rc = fail(diag, FL_ECORRUPT,
			  "%s does not belong to %s (a half-written CA? "
			  "`fleetd pki init --force` makes a new one)",
			  p->ca_key, p->ca_crt);
	if (rc == 0 && X509_check_ca(ca->crt) == 0)
		rc = fail(diag, FL_ECORRUPT, "%s is not a CA certificate",
			  p->ca_crt);
	ERR_clear_error();
	if (rc != 0) {
		fld_pki_ca_free(ca);
		return rc;
	}
	*out = ca;
	return 0;
}

void fld_pki_ca_free(struct fld_pki_ca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->crt);
	EVP_PKEY_free(ca->key);
	free(ca);
}

int fld_pki_issue(const struct fld_pki_ca *ca, const struct fld_pki_req *req,
		  struct fld_pki_diag *diag)
{
	char san[SAN_MAX];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509V3_CTX ctx;
	bool is_srv = req->kind == FLD_PKI_SERVER;
	int rc;

	if (!fld_pki_cn_ok(req->cn))
		return fail(diag, FL_EINVAL,
			    "name `%.80s`: 1 to %d of [A-Za-z0-9.@_-]",
			    req->cn != NULL ? req->cn : "", FLD_PKI_CN_MAX - 1);
	if (req->days == 0 || req->days > DAYS_MAX)
		return fail(diag, FL_EINVAL, "days: 1 to %u", DAYS_MAX);
	if (is_srv) {
		rc = san_of(req, san, sizeof(san), diag);
		if (rc != 0)
			return rc;
	}
	rc = refuse_existing(req->key_path, req->crt_path, req->is_force, diag);
	if (rc != 0)
		return rc;
	key = new_key();
	x = key != NULL ? new_crt(key, req->cn, req->days) : NULL;
	rc = x != NULL ? 0 : FL_ECRYPTO;
	if (rc == 0 &&
	    X509_set_issuer_name(x, X509_get_subject_name(ca->crt)) != 1)
		rc = FL_ECRYPTO;
	if (rc == 0) {
		X509V3_set_ctx(&ctx, ca->crt, x, NULL, NULL, 0);
		rc = add_ext(x, &ctx, NID_basic_constraints,
			     "critical,CA:FALSE");
	}
	if (rc == 0)
		rc = add_ext(x, &ctx, NID_key_usage,
			     "critical,digitalSignature");
	if (rc == 0)
		rc = add_ext(x, &ctx, NID_ext_key_usage,
			     is_srv ? "serverAuth" : "clientAuth");
	if (rc == 0)
		rc = add_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (rc == 0)
		rc = add_ext(x, &ctx, NID_authority_key_identifier,
			     "keyid:always");
	if (rc == 0 && is_srv)
		rc = add_ext(x, &ctx, NID_subject_alt_name, san);
	if (rc == 0 && X509_sign(x, ca->key, EVP_sha256()) <= 0)
		rc = FL_ECRYPTO;
	if (rc != 0)
		rc = fail(diag, rc, "cannot make the certificate of %s: %s",
			  req->cn, ossl_why());
	else if (!is_srv)
		rc = fld_pki__record(ca, req->cn, x, diag);
	if (rc == 0)
		rc = write_pair(key, x, req->key_path, req->crt_path,
				req->is_force, diag);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

/* ---- fleetd's start ------------------------------------------------------ */

/* Checks crt_path and key_path as a pair issued by ca and in force; the
 * days left in *days_left, the CN in cn (cap bytes) if not NULL. */
static int check_pair(const struct fld_pki_ca *ca, const char *key_path,
		      const char *crt_path, const char *fix, int *days_left,
		      char *cn, size_t cap, struct fld_pki_diag *diag)
{
	EVP_PKEY *key = NULL, *ca_pub;
	X509 *x;
	int rc = 0, days = 0, secs = 0;

	x = fld_pki__load_crt(crt_path, diag, &rc);
	if (rc == 0)
		key = load_key(key_path, diag, &rc);
	if (rc == 0 && X509_check_private_key(x, key) != 1)
		rc = fail(diag, FL_ESTATE,
			  "%s does not belong to %s (issue them again: %s)",
			  key_path, crt_path, fix);
	ca_pub = ca->crt != NULL ? X509_get0_pubkey(ca->crt) : NULL;
	if (rc == 0 && (ca_pub == NULL || X509_verify(x, ca_pub) != 1))
		rc = fail(diag, FL_ESTATE,
			  "%s was not issued by the fleet CA (a new CA? issue "
			  "it again: %s)",
			  crt_path, fix);
	if (rc == 0 &&
	    ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1)
		rc = fail(diag, FL_ECORRUPT, "%s: a bad expiry date", crt_path);
	if (rc == 0 && (days < 0 || secs < 0 || (days == 0 && secs == 0)))
		rc = fail(diag, FL_ESTATE,
			  "%s has expired (issue it again: %s)", crt_path, fix);
	if (rc == 0 && cn != NULL &&
	    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
				      cn, (int)cap) <= 0)
		rc = fail(diag, FL_ECORRUPT, "%s has no common name", crt_path);
	if (days_left != NULL)
		*days_left = days;
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int fld_pki_check_pair(const struct fld_pki_ca *ca, const char *key_path,
		       const char *crt_path, const char *fix, int *days_left,
		       char *cn, size_t cap, struct fld_pki_diag *diag)
{
	if (ca == NULL || key_path == NULL || crt_path == NULL || fix == NULL ||
	    (cn != NULL && cap == 0))
		return fail(diag, FL_EINVAL, "no CA or no path to check");
	return check_pair(ca, key_path, crt_path, fix, days_left, cn, cap,
			  diag);
}

/* fleetd@HOST, with HOST cut to what a CN may hold. */
static void client_cn(char *cn, size_t cap)
{
	char host[64];
	size_t n;

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (char *c = host; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-'))
			*c = '-';
	n = (size_t)snprintf(cn, cap, "fleetd@%s", host);
	if (n >= cap)
		cn[cap - 1] = '\0';
}

int fld_pki_ensure(const struct fld_pki_paths *p, struct fld_pki_state *st,
		   struct fld_pki_diag *diag)
{
	struct fld_pki_ca *ca = NULL;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = fld_pki_mkdir(p, diag);
	if (rc != 0)
		return rc;
	if (!exists(p->ca_key) && !exists(p->ca_crt)) {
		rc = fld_pki_make_ca(p, FLD_PKI_CA_DAYS, false, diag);
		if (rc != 0)
			return rc;
		st->is_ca_new = true;
	} else if (!exists(p->ca_key) || !exists(p->ca_crt)) {
		return fail(diag, FL_ESTATE,
			    "half a fleet CA in %s (%s is missing): restore "
			    "it from a backup, or make a new one with `fleetd "
			    "pki init --force` (every device then needs a "
			    "new certificate)",
			    p->dir, exists(p->ca_key) ? "ca.crt" : "ca.key");
	}
	rc = fld_pki_ca_load(&ca, p, diag);
	if (rc != 0)
		return rc;
	if (!exists(p->srv_key) && !exists(p->srv_crt)) {
		struct fld_pki_req r = {
			FLD_PKI_SERVER,	  "fleetd",   NULL,	  0,
			FLD_PKI_SRV_DAYS, p->srv_key, p->srv_crt, false};

		rc = fld_pki_issue(ca, &r, diag);
		if (rc != 0)
			goto out;
		st->is_srv_new = true;
	}
	if (!exists(p->cli_key) && !exists(p->cli_crt)) {
		char cn[FLD_PKI_CN_MAX];
		struct fld_pki_req r = {
			FLD_PKI_CLIENT,	  cn,	      NULL,	  0,
			FLD_PKI_DEV_DAYS, p->cli_key, p->cli_crt, false};

		client_cn(cn, sizeof(cn));
		rc = fld_pki_issue(ca, &r, diag);
		if (rc != 0)
			goto out;
		st->is_cli_new = true;
	}
	rc = check_pair(ca, p->srv_key, p->srv_crt,
			"`fleetd pki server "
			"--force`",
			&st->srv_days_left, NULL, 0, diag);
	if (rc == 0)
		rc = check_pair(ca, p->cli_key, p->cli_crt,
				"remove fleetd.key and fleetd.crt: the next "
				"start makes them",
				NULL, st->client_cn, sizeof(st->client_cn),
				diag);
	if (rc == 0 && !fld_pki_cn_ok(st->client_cn))
		rc = fail(diag, FL_ECORRUPT,
			  "%s: its name `%.64s` cannot go in the broker's "
			  "ACL",
			  p->cli_crt, st->client_cn);
	if (rc == 0)
		rc = fld_pki_crl_check(ca, p, (int64_t)time(NULL),
				       FLD_PKI_CRL_RENEW_DAYS, &st->crl, diag);
out:
	fld_pki_ca_free(ca);
	return rc;
}
