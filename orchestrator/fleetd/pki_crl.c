/*
 * pki_crl.c -- revoking certificates of the fleet CA (pki.h): the index of
 * issued client certificates (DATA/pki/issued) and the certificate
 * revocation list (DATA/pki/crl.pem) the broker checks, on OpenSSL.
 *
 * Method: the index is append-only, one line per certificate signed
 * ("ID SERIAL NOT-AFTER ISSUED", decimal Unix seconds, the serial in
 * lower-case hex), written before the certificate's files and fsynced.
 * A power cut in the middle of an append leaves a last line without its
 * newline: readers ignore it and the next append cuts it off first, so a
 * torn line is never followed by a whole one. Any other line that does
 * not parse is damage, reported with its number, and nothing is changed.
 *
 * The CRL is the only record of what is revoked. Every change reads it,
 * builds a new one (the old entries, the new ones, a crlNumber one
 * higher, a next update FLD_PKI_CRL_DAYS away), signs it with the CA key
 * and replaces the file atomically (pki.c's writer). fleetd re-signing
 * an old CRL and `fleetd pki revoke` adding to it may run at the same
 * time in two processes: both take pki.lock (flock) around their read
 * and write, so that neither loses the other's change. Appends to the
 * index take it too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fl/err.h"
#include "pki_priv.h"

#define SKEW_S	       300 /* lastUpdate this far in the past */
#define LINE_MAX_BYTES 160 /* an index line, its newline included */
#define DAY_S	       86400
#define INDEX_HEADER                                                           \
	"# fleetd pki: client certificates issued, one per line: ID "          \
	"SERIAL NOT-AFTER ISSUED\n"

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

/* ---- the lock ------------------------------------------------------------ */

static int lock_take(const char *path, int *fd, struct fld_pki_diag *diag)
{
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return fail(diag, FL_EIO, "cannot open %s: %s", path,
			    strerror(errno));
	while (flock(*fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int e = errno;

			close(*fd);
			*fd = -1;
			return fail(diag, FL_EIO, "cannot lock %s: %s", path,
				    strerror(e));
		}
	}
	return 0;
}

static void lock_drop(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* ---- serials ------------------------------------------------------------- */

/* A positive serial of at most 20 bytes, in lower-case hex. */
static int serial_hex(const ASN1_INTEGER *ai, char *out)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
	char *h = bn != NULL && !BN_is_negative(bn) ? BN_bn2hex(bn) : NULL;
	size_t n = h != NULL ? strlen(h) : 0;
	int rc = 0;

	if (n == 0 || n >= FLD_PKI_SERIAL_MAX)
		rc = FL_EINVAL;
	else
		for (size_t i = 0; i <= n; i++)
			out[i] = (h[i] >= 'A' && h[i] <= 'F')
					 ? (char)(h[i] - 'A' + 'a')
					 : h[i];
	OPENSSL_free(h);
	BN_free(bn);
	return rc;
}

static bool is_serial(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= FLD_PKI_SERIAL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

/* The ASN1_INTEGER of a serial in hex (is_serial). NULL: no memory. */
static ASN1_INTEGER *serial_of(const char *hex)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;

	if (BN_hex2bn(&bn, hex) > 0)
		ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return ai;
}

static int64_t unix_of(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	return (int64_t)timegm(&tm);
}

/* ---- the index ----------------------------------------------------------- */

static bool get_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = (int64_t)v;
	return true;
}

/* One line of the index, its newline removed. */
static bool parse_line(char *line, struct fld_pki_issued *e)
{
	char *f[4], *save = NULL;
	size_t n = 0;

	memset(e, 0, sizeof(*e));
	for (char *t = strtok_r(line, " ", &save); t != NULL;
	     t = strtok_r(NULL, " ", &save)) {
		if (n == 4)
			return false;
		f[n++] = t;
	}
	if (n != 4 || !fld_pki_cn_ok(f[0]) || !is_serial(f[1]) ||
	    !get_i64(f[2], &e->not_after) || !get_i64(f[3], &e->issued))
		return false;
	memcpy(e->cn, f[0], strlen(f[0]) + 1);
	for (size_t i = 0; f[1][i] != '\0'; i++)
		e->serial[i] = (f[1][i] >= 'A' && f[1][i] <= 'F')
				       ? (char)(f[1][i] - 'A' + 'a')
				       : f[1][i];
	return true;
}

/*
 * Calls fn for every whole line of the index at path (none when there is
 * no index), stopping at fn's first non-zero return, which it returns.
 * FL_ECORRUPT for a line that does not parse, FL_ETOOBIG for an index
 * over FLD_PKI_INDEX_MAX bytes, FL_EIO.
 */
static int index_each(const char *path,
		      int (*fn)(void *ctx, const struct fld_pki_issued *e),
		      void *ctx, struct fld_pki_diag *diag)
{
	char line[LINE_MAX_BYTES + 2];
	struct fld_pki_issued e;
	struct stat sb;
	size_t lineno = 0;
	FILE *f = fopen(path, "re");
	int rc = 0;

	if (f == NULL)
		return errno == ENOENT
			       ? 0
			       : fail(diag, FL_EIO, "cannot read %s: %s", path,
				      strerror(errno));
	if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > (off_t)FLD_PKI_INDEX_MAX) {
		fclose(f);
		return fail(diag, FL_ETOOBIG,
			    "%s: not a file of at most %u bytes", path,
			    FLD_PKI_INDEX_MAX);
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		size_t n = strlen(line);

		lineno++;
		if (n == 0 || line[n - 1] != '\n') {
			if (feof(f) && n < LINE_MAX_BYTES)
				break; /* a torn last append: not written */
			rc = fail(diag, FL_ECORRUPT,
				  "%s:%zu: a line longer than %d bytes "
				  "(restore the file from a backup)",
				  path, lineno, LINE_MAX_BYTES);
			break;
		}
		line[n - 1] = '\0';
		if (line[0] == '#')
			continue;
		if (!parse_line(line, &e)) {
			rc = fail(diag, FL_ECORRUPT,
				  "%s:%zu: not `ID SERIAL NOT-AFTER ISSUED` "
				  "(restore the file from a backup)",
				  path, lineno);
			break;
		}
		rc = fn(ctx, &e);
	}
	if (rc == 0 && ferror(f))
		rc = fail(diag, FL_EIO, "cannot read %s", path);
	fclose(f);
	return rc;
}

/* Cuts a torn last line off the index open on fd (size bytes). */
static int cut_torn_tail(int fd, off_t size, const char *path,
			 struct fld_pki_diag *diag)
{
	char tail[LINE_MAX_BYTES + 1];
	off_t from =
		size > (off_t)sizeof(tail) ? size - (off_t)sizeof(tail) : 0;
	ssize_t n = pread(fd, tail, (size_t)(size - from), from);

	if (n != (ssize_t)(size - from))
		return fail(diag, FL_EIO, "cannot read %s: %s", path,
			    strerror(errno != 0 ? errno : EIO));
	if (tail[n - 1] == '\n')
		return 0;
	for (ssize_t i = n - 1; i >= 0; i--)
		if (tail[i] == '\n')
			return ftruncate(fd, from + i + 1) == 0
				       ? 0
				       : fail(diag, FL_EIO,
					      "cannot repair %s: %s", path,
					      strerror(errno));
	return fail(diag, FL_ECORRUPT,
		    "%s: its last line is longer than %d bytes (restore the "
		    "file from a backup)",
		    path, LINE_MAX_BYTES);
}

int fld_pki__record(const struct fld_pki_ca *ca, const char *cn, const X509 *x,
		    struct fld_pki_diag *diag)
{
	char serial[FLD_PKI_SERIAL_MAX], line[LINE_MAX_BYTES + 64];
	struct stat sb;
	int lk = -1, fd = -1, rc, n;
	bool is_new;

	if (serial_hex(X509_get0_serialNumber(x), serial) != 0)
		return fail(diag, FL_ECRYPTO, "a certificate without a serial");
	n = snprintf(line, sizeof(line), "%s %s %" PRId64 " %" PRId64 "\n", cn,
		     serial, unix_of(X509_get0_notAfter(x)),
		     (int64_t)time(NULL));
	if (n <= 0 || n > LINE_MAX_BYTES)
		return fail(diag, FL_EINVAL, "%s: a name too long", cn);
	rc = lock_take(ca->lock, &lk, diag);
	if (rc != 0)
		return rc;
	fd = open(ca->issued, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		rc = fail(diag, FL_EIO, "cannot write %s: %s", ca->issued,
			  strerror(errno));
		goto out;
	}
	if (sb.st_size + n > (off_t)FLD_PKI_INDEX_MAX) {
		rc = fail(diag, FL_ETOOBIG, "%s: full (%u bytes)", ca->issued,
			  FLD_PKI_INDEX_MAX);
		goto out;
	}
	is_new = sb.st_size == 0;
	if (!is_new)
		rc = cut_torn_tail(fd, sb.st_size, ca->issued, diag);
	if (rc == 0 && is_new &&
	    write(fd, INDEX_HEADER, strlen(INDEX_HEADER)) !=
		    (ssize_t)strlen(INDEX_HEADER))
		rc = FL_EIO;
	if (rc == 0 && write(fd, line, (size_t)n) != (ssize_t)n)
		rc = FL_EIO;
	if (rc == 0 && fsync(fd) != 0)
		rc = FL_EIO;
	if (rc == 0 && is_new && fld_pki__fsync_dir_of(ca->issued) != 0)
		rc = FL_EIO;
	if (rc == FL_EIO)
		(void)fail(diag, rc, "cannot write %s: %s", ca->issued,
			   strerror(errno != 0 ? errno : EIO));
out:
	if (fd >= 0)
		close(fd);
	lock_drop(lk);
	return rc;
}

/* ---- the CRL ------------------------------------------------------------- */

/*
 * Reads the CRL at path and checks it was signed by ca_crt. *out is the
 * caller's (X509_CRL_free). FL_ENOENT (no file), FL_ECORRUPT, FL_ETOOBIG,
 * FL_EIO.
 */
static int crl_load(const char *path, X509 *ca_crt, X509_CRL **out,
		    struct fld_pki_diag *diag)
{
	struct stat sb;
	BIO *b;
	X509_CRL *crl = NULL;
	EVP_PKEY *pub = X509_get0_pubkey(ca_crt);
	const STACK_OF(X509_REVOKED) * rev;

	*out = NULL;
	if (stat(path, &sb) != 0)
		return fail(diag, errno == ENOENT ? FL_ENOENT : FL_EIO,
			    "cannot read %s: %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode) || sb.st_size > (off_t)FLD_PKI_CRL_MAX)
		return fail(diag, FL_ETOOBIG,
			    "%s: not a file of at most %u bytes", path,
			    FLD_PKI_CRL_MAX);
	b = BIO_new_file(path, "r");
	if (b == NULL)
		return fail(diag, FL_EIO, "cannot read %s: %s", path,
			    strerror(errno));
	crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
	BIO_free(b);
	if (crl == NULL)
		return fail(diag, FL_ECORRUPT,
			    "%s: not a PEM certificate revocation list (%s): "
			    "restore it from a backup",
			    path, ossl_why());
	if (pub == NULL || X509_CRL_verify(crl, pub) != 1 ||
	    X509_NAME_cmp(X509_CRL_get_issuer(crl),
			  X509_get_subject_name(ca_crt)) != 0) {
		X509_CRL_free(crl);
		ERR_clear_error();
		return fail(diag, FL_ECORRUPT,
			    "%s was not signed by the fleet CA (a CA made "
			    "anew? `fleetd pki init --force` starts a new "
			    "one, empty; else restore it from a backup)",
			    path);
	}
	rev = X509_CRL_get_REVOKED(crl);
	if (rev != NULL &&
	    sk_X509_REVOKED_num(rev) > (int)FLD_PKI_REVOKED_MAX) {
		X509_CRL_free(crl);
		return fail(diag, FL_ETOOBIG, "%s: more than %u serials", path,
			    FLD_PKI_REVOKED_MAX);
	}
	*out = crl;
	return 0;
}

static int crl_state(X509_CRL *crl, struct fld_pki_crl_state *st)
{
	const STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned len = 0;
	int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;

	st->n_revoked = rev != NULL ? (size_t)sk_X509_REVOKED_num(rev) : 0;
	st->next_update = unix_of(X509_CRL_get0_nextUpdate(crl));
	for (size_t i = 0; ok && i < st->n_revoked; i++) {
		const ASN1_INTEGER *s = X509_REVOKED_get0_serialNumber(
			sk_X509_REVOKED_value(rev, (int)i));

		ok = EVP_DigestUpdate(md, ASN1_STRING_get0_data(s),
				      (size_t)ASN1_STRING_length(s)) == 1 &&
		     EVP_DigestUpdate(md, "\n", 1) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(md, st->digest, &len) == 1 && len == 32;
	EVP_MD_CTX_free(md);
	return ok ? 0 : FL_ECRYPTO;
}

/* The old CRL's number plus one (1 without one). */
static int set_number(X509_CRL *crl, X509_CRL *old)
{
	ASN1_INTEGER *num = NULL, *next;
	BIGNUM *bn = NULL;
	int ok;

	if (old != NULL)
		num = X509_CRL_get_ext_d2i(old, NID_crl_number, NULL, NULL);
	bn = num != NULL ? ASN1_INTEGER_to_BN(num, NULL) : BN_new();
	ok = bn != NULL && BN_add_word(bn, 1) == 1;
	next = ok ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	ok = next != NULL &&
	     X509_CRL_add1_ext_i2d(crl, NID_crl_number, next, 0, 0) == 1;
	ASN1_INTEGER_free(next);
	ASN1_INTEGER_free(num);
	BN_free(bn);
	return ok ? 0 : FL_ECRYPTO;
}

/*
 * A new CRL of the CA (ca_crt, key): old's entries (old may be NULL),
 * plus add[0..n_add) revoked at now, valid days from now, signed.
 */
static int crl_build(X509 *ca_crt, EVP_PKEY *key, X509_CRL *old,
		     ASN1_INTEGER *const *add, size_t n_add, int64_t now,
		     unsigned days, X509_CRL **out)
{
	const STACK_OF(X509_REVOKED) *rev =
		old != NULL ? X509_CRL_get_REVOKED(old) : NULL;
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = ASN1_TIME_set(NULL, (time_t)(now - SKEW_S));
	ASN1_TIME *next =
		ASN1_TIME_set(NULL, (time_t)(now + (int64_t)days * DAY_S));
	ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)now);
	X509_EXTENSION *aki = NULL;
	X509V3_CTX ctx;
	int ok;

	*out = NULL;
	ok = crl != NULL && last != NULL && next != NULL && when != NULL &&
	     X509_CRL_set_version(crl, 1) == 1 &&
	     X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca_crt)) ==
		     1 &&
	     X509_CRL_set1_lastUpdate(crl, last) == 1 &&
	     X509_CRL_set1_nextUpdate(crl, next) == 1;
	for (int i = 0; ok && rev != NULL && i < sk_X509_REVOKED_num(rev);
	     i++) {
		X509_REVOKED *r =
			X509_REVOKED_dup(sk_X509_REVOKED_value(rev, i));

		ok = r != NULL && X509_CRL_add0_revoked(crl, r) == 1;
		if (!ok)
			X509_REVOKED_free(r);
	}
	for (size_t i = 0; ok && i < n_add; i++) {
		X509_REVOKED *r = X509_REVOKED_new();

		ok = r != NULL &&
		     X509_REVOKED_set_serialNumber(r, add[i]) == 1 &&
		     X509_REVOKED_set_revocationDate(r, when) == 1 &&
		     X509_CRL_add0_revoked(crl, r) == 1;
		if (!ok)
			X509_REVOKED_free(r);
	}
	ok = ok && set_number(crl, old) == 0;
	if (ok) {
		X509V3_set_ctx(&ctx, ca_crt, NULL, NULL, crl, 0);
		aki = X509V3_EXT_conf_nid(NULL, &ctx,
					  NID_authority_key_identifier,
					  "keyid:always");
		ok = aki != NULL && X509_CRL_add_ext(crl, aki, -1) == 1;
	}
	ok = ok && X509_CRL_sort(crl) == 1 &&
	     X509_CRL_sign(crl, key, EVP_sha256()) > 0;
	X509_EXTENSION_free(aki);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	ASN1_TIME_free(when);
	if (!ok) {
		X509_CRL_free(crl);
		return FL_ECRYPTO;
	}
	*out = crl;
	return 0;
}

static int crl_write(const char *path, X509_CRL *crl, struct fld_pki_diag *diag)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n = 0;
	int rc;

	if (b == NULL || PEM_write_bio_X509_CRL(b, crl) != 1 ||
	    (n = BIO_get_mem_data(b, &p)) <= 0) {
		BIO_free(b);
		return fail(diag, FL_ECRYPTO, "cannot encode the CRL: %s",
			    ossl_why());
	}
	if ((unsigned long)n > FLD_PKI_CRL_MAX)
		rc = fail(diag, FL_ETOOBIG, "the CRL would exceed %u bytes",
			  FLD_PKI_CRL_MAX);
	else
		rc = fld_pki__write_atomic(path, p, (size_t)n, 0644, true,
					   diag);
	BIO_free(b);
	return rc;
}

/* Builds (from old, adding add), writes and describes a new CRL. */
static int crl_replace(const struct fld_pki_ca *ca, const char *path,
		       X509_CRL *old, ASN1_INTEGER *const *add, size_t n_add,
		       int64_t now, unsigned days, struct fld_pki_crl_state *st,
		       struct fld_pki_diag *diag)
{
	X509_CRL *crl = NULL;
	int rc = crl_build(ca->crt, ca->key, old, add, n_add, now, days, &crl);

	if (rc != 0)
		return fail(diag, rc, "cannot sign the CRL: %s", ossl_why());
	rc = crl_write(path, crl, diag);
	if (rc == 0 && st != NULL)
		rc = crl_state(crl, st);
	X509_CRL_free(crl);
	return rc;
}

int fld_pki__fresh_crl(const struct fld_pki_paths *p, X509 *x, EVP_PKEY *key,
		       struct fld_pki_diag *diag)
{
	struct fld_pki_ca ca = {.crt = x, .key = key};
	int lk = -1, rc = lock_take(p->lock, &lk, diag);

	if (rc != 0)
		return rc;
	rc = crl_replace(&ca, p->crl, NULL, NULL, 0, (int64_t)time(NULL),
			 FLD_PKI_CRL_DAYS, NULL, diag);
	if (rc == 0)
		rc = fld_pki__write_atomic(p->issued, INDEX_HEADER,
					   strlen(INDEX_HEADER), 0600, true,
					   diag);
	lock_drop(lk);
	return rc;
}

int fld_pki_crl_check(const struct fld_pki_ca *ca,
		      const struct fld_pki_paths *p, int64_t now,
		      unsigned renew_days, struct fld_pki_crl_state *st,
		      struct fld_pki_diag *diag)
{
	X509_CRL *crl = NULL;
	int lk = -1, rc;

	memset(st, 0, sizeof(*st));
	rc = lock_take(p->lock, &lk, diag);
	if (rc != 0)
		return rc;
	rc = crl_load(p->crl, ca->crt, &crl, diag);
	if (rc == FL_ENOENT) {
		rc = crl_replace(ca, p->crl, NULL, NULL, 0, now,
				 FLD_PKI_CRL_DAYS, st, diag);
		st->is_new = rc == 0;
	} else if (rc == 0) {
		rc = crl_state(crl, st);
		if (rc == 0 &&
		    st->next_update - now < (int64_t)renew_days * DAY_S) {
			rc = crl_replace(ca, p->crl, crl, NULL, 0, now,
					 FLD_PKI_CRL_DAYS, st, diag);
			st->is_resigned = rc == 0;
		}
	}
	X509_CRL_free(crl);
	lock_drop(lk);
	return rc;
}

int fld_pki_crl_resign(const struct fld_pki_ca *ca,
		       const struct fld_pki_paths *p, int64_t now,
		       unsigned days, struct fld_pki_crl_state *st,
		       struct fld_pki_diag *diag)
{
	X509_CRL *crl = NULL;
	int lk = -1, rc;

	memset(st, 0, sizeof(*st));
	if (days == 0 || days > 36500u)
		return fail(diag, FL_EINVAL, "days: 1 to 36500");
	rc = lock_take(p->lock, &lk, diag);
	if (rc != 0)
		return rc;
	rc = crl_load(p->crl, ca->crt, &crl, diag);
	if (rc == 0)
		rc = crl_replace(ca, p->crl, crl, NULL, 0, now, days, st, diag);
	st->is_resigned = rc == 0;
	X509_CRL_free(crl);
	lock_drop(lk);
	return rc;
}

/* ---- revoking ------------------------------------------------------------ */

struct of_id {
	const char *id;
	struct fld_pki_revoke_res *res;
	size_t n;
	struct fld_pki_diag *diag;
};

static int collect_id(void *ctx, const struct fld_pki_issued *e)
{
	struct of_id *c = ctx;

	if (strcmp(e->cn, c->id) != 0)
		return 0;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->res->serials[i], e->serial) == 0)
			return 0; /* listed twice: once is enough */
	if (c->n == FLD_PKI_PER_ID_MAX)
		return fail(c->diag, FL_ETOOBIG,
			    "`%s` has more than %u certificates: revoke them "
			    "one by one with --serial",
			    c->id, FLD_PKI_PER_ID_MAX);
	memcpy(c->res->serials[c->n++], e->serial, FLD_PKI_SERIAL_MAX);
	return 0;
}

/* The serials req names, into res->serials; their count in *n. */
static int what_to_revoke(const struct fld_pki_ca *ca,
			  const struct fld_pki_revoke_req *req,
			  struct fld_pki_revoke_res *res, size_t *n,
			  struct fld_pki_diag *diag)
{
	int rc = 0;

	*n = 0;
	if (req->id != NULL) {
		struct of_id c = {req->id, res, 0, diag};

		if (!fld_pki_cn_ok(req->id))
			return fail(diag, FL_EINVAL,
				    "`%.80s`: not a device id or name (1 to "
				    "%d of [A-Za-z0-9.@_-])",
				    req->id, FLD_PKI_CN_MAX - 1);
		rc = index_each(ca->issued, collect_id, &c, diag);
		if (rc == 0 && c.n == 0)
			rc = fail(diag, FL_ENOENT,
				  "no certificate was issued to `%s` (`fleetd "
				  "pki list` shows those that were; --cert "
				  "FILE revokes one issued before that list "
				  "existed)",
				  req->id);
		*n = c.n;
		return rc;
	}
	if (req->serial != NULL) {
		if (!is_serial(req->serial))
			return fail(diag, FL_EINVAL,
				    "serial `%.80s`: 1 to %u hex digits",
				    req->serial, FLD_PKI_SERIAL_MAX - 1);
		for (size_t i = 0; req->serial[i] != '\0'; i++)
			res->serials[0][i] =
				(req->serial[i] >= 'A' && req->serial[i] <= 'F')
					? (char)(req->serial[i] - 'A' + 'a')
					: req->serial[i];
		res->serials[0][strlen(req->serial)] = '\0';
		/* "00ab" and "ab" are one serial: written as OpenSSL does */
		{
			ASN1_INTEGER *ai = serial_of(res->serials[0]);

			rc = ai != NULL ? serial_hex(ai, res->serials[0])
					: FL_ENOMEM;
			ASN1_INTEGER_free(ai);
			if (rc != 0)
				return fail(diag, rc, "serial `%.80s`: %s",
					    req->serial, fl_strerror(rc));
		}
		*n = 1;
		return 0;
	}
	{
		X509 *x = fld_pki__load_crt(req->crt_path, diag, &rc);

		if (x == NULL)
			return rc;
		if (X509_verify(x, X509_get0_pubkey(ca->crt)) != 1)
			rc = fail(diag, FL_ECORRUPT,
				  "%s was not issued by the fleet CA",
				  req->crt_path);
		else if (serial_hex(X509_get0_serialNumber(x),
				    res->serials[0]) != 0)
			rc = fail(diag, FL_EINVAL, "%s: a serial too long",
				  req->crt_path);
		ERR_clear_error();
		X509_free(x);
		*n = rc == 0 ? 1 : 0;
		return rc;
	}
}

/* Refuses fleetd's own client certificate among serials. */
static int not_fleetd(const struct fld_pki_paths *p,
		      const struct fld_pki_revoke_res *res, size_t n,
		      struct fld_pki_diag *diag)
{
	char own[FLD_PKI_SERIAL_MAX];
	struct fld_pki_diag ignored;
	int rc = 0;
	X509 *x = fld_pki__load_crt(p->cli_crt, &ignored, &rc);

	if (x == NULL)
		return 0; /* none yet: the next start makes it */
	rc = serial_hex(X509_get0_serialNumber(x), own);
	X509_free(x);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (strcmp(res->serials[i], own) == 0)
			return fail(
				diag, FL_EINVAL,
				"%s is fleetd's own certificate: it "
				"cannot be revoked (remove fleetd.key and "
				"fleetd.crt: the next start makes new ones)",
				res->serials[i]);
	return 0;
}

int fld_pki_revoke(const struct fld_pki_ca *ca, const struct fld_pki_paths *p,
		   const struct fld_pki_revoke_req *req,
		   struct fld_pki_revoke_res *res, struct fld_pki_diag *diag)
{
	ASN1_INTEGER *add[FLD_PKI_PER_ID_MAX];
	X509_CRL *crl = NULL;
	size_t n = 0, n_add = 0;
	int lk = -1, rc;

	memset(res, 0, sizeof(*res));
	if ((req->id != NULL) + (req->serial != NULL) +
		    (req->crt_path != NULL) !=
	    1)
		return fail(diag, FL_EINVAL,
			    "an id, --serial or --cert: one of them");
	rc = lock_take(p->lock, &lk, diag);
	if (rc != 0)
		return rc;
	rc = what_to_revoke(ca, req, res, &n, diag);
	if (rc == 0)
		rc = not_fleetd(p, res, n, diag);
	if (rc == 0) {
		rc = crl_load(p->crl, ca->crt, &crl, diag);
		if (rc == FL_ENOENT)
			rc = 0; /* none yet: it starts with these */
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		X509_REVOKED *r = NULL;
		ASN1_INTEGER *ai = serial_of(res->serials[i]);

		if (ai == NULL) {
			rc = fail(diag, FL_ENOMEM, "out of memory");
			break;
		}
		if (crl != NULL && X509_CRL_get0_by_serial(crl, &r, ai) == 1) {
			res->n_already++;
			ASN1_INTEGER_free(ai);
			continue;
		}
		add[n_add++] = ai;
	}
	if (rc == 0 && n_add > 0) {
		const STACK_OF(X509_REVOKED) *rev =
			crl != NULL ? X509_CRL_get_REVOKED(crl) : NULL;
		size_t have =
			rev != NULL ? (size_t)sk_X509_REVOKED_num(rev) : 0;

		if (have + n_add > FLD_PKI_REVOKED_MAX)
			rc = fail(diag, FL_ETOOBIG,
				  "the CRL is full (%u serials): make a new "
				  "CA (`fleetd pki init --force`)",
				  FLD_PKI_REVOKED_MAX);
		else
			rc = crl_replace(ca, p->crl, crl, add, n_add, req->now,
					 FLD_PKI_CRL_DAYS, NULL, diag);
		if (rc == 0)
			res->n_new = n_add;
	}
	for (size_t i = 0; i < n_add; i++)
		ASN1_INTEGER_free(add[i]);
	if (rc != 0)
		res->n_already = 0;
	X509_CRL_free(crl);
	lock_drop(lk);
	return rc;
}

/* ---- listing ------------------------------------------------------------- */

struct lister {
	X509_CRL *crl; /* NULL: none, nothing revoked */
	void (*each)(void *ctx, const struct fld_pki_issued *c);
	void *ctx;
};

static int list_one(void *ctx, const struct fld_pki_issued *e)
{
	struct lister *l = ctx;
	struct fld_pki_issued c = *e;

	if (l->crl != NULL) {
		X509_REVOKED *r = NULL;
		ASN1_INTEGER *ai = serial_of(e->serial);

		if (ai == NULL)
			return FL_ENOMEM;
		c.is_revoked = X509_CRL_get0_by_serial(l->crl, &r, ai) == 1;
		ASN1_INTEGER_free(ai);
	}
	l->each(l->ctx, &c);
	return 0;
}

int fld_pki_list(const struct fld_pki_paths *p,
		 void (*each)(void *ctx, const struct fld_pki_issued *c),
		 void *ctx, struct fld_pki_crl_state *st,
		 struct fld_pki_diag *diag)
{
	struct lister l = {NULL, each, ctx};
	X509 *ca_crt;
	int rc = 0;

	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if (access(p->ca_crt, F_OK) != 0)
		return fail(diag, FL_ENOENT,
			    "no fleet CA in %s (create it with `fleetd pki "
			    "init`)",
			    p->dir);
	ca_crt = fld_pki__load_crt(p->ca_crt, diag, &rc);
	if (ca_crt == NULL)
		return rc;
	rc = crl_load(p->crl, ca_crt, &l.crl, diag);
	if (rc == FL_ENOENT)
		rc = 0;
	if (rc == 0)
		rc = index_each(p->issued, list_one, &l, diag);
	if (rc == FL_ENOMEM)
		(void)fail(diag, rc, "out of memory");
	if (rc == 0 && st != NULL && l.crl != NULL)
		rc = crl_state(l.crl, st);
	X509_CRL_free(l.crl);
	X509_free(ca_crt);
	return rc;
}
