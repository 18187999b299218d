/*
 * test_pki.c -- revoking certificates of the fleet CA
 * (orchestrator/fleetd/pki.c, pki_crl.c) on real files: every client
 * certificate issued is in the index; revoking an id lists all its
 * certificates in a CRL signed by the CA that OpenSSL's verifier, as the
 * broker runs it (X509_V_FLAG_CRL_CHECK), then refuses while another
 * device still passes; revoking again, an unknown id, a bad name or
 * serial, another CA's certificate or fleetd's own changes no byte; a
 * re-issued device has a new serial that passes; a damaged index or CRL
 * is refused with where and what; a torn last line of the index is
 * ignored and cut off by the next append; a CRL near its next update is
 * re-signed with the same serials, and a lapsed one, which makes OpenSSL
 * refuse every client, is re-signed by the same check; a key and
 * certificate pair is checked against the CA.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "fl/err.h"
#include "pki.h"

#define DAY_S 86400

struct fix {
	char dir[64], data[96], out[128];
	struct fld_pki_paths p;
	struct fld_pki_ca *ca;
	struct fld_pki_state st;
};

static struct fix fx;

static char *slurp(const char *path)
{
	char *text = NULL;
	struct fld_pki_diag d;

	if (fld_pki_read(path, &text, &d) != 0)
		return NULL;
	return text;
}

/* A bigger file than fld_pki_read takes (the index). */
static char *slurp_big(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void put(const char *path, const char *text, const char *mode)
{
	FILE *f = fopen(path, mode);

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	struct fld_pki_diag d = {{0}};

	(void)state;
	memset(&fx, 0, sizeof(fx));
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/fl-pki-XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	snprintf(fx.data, sizeof(fx.data), "%s/data", fx.dir);
	snprintf(fx.out, sizeof(fx.out), "%s/out", fx.dir);
	if (mkdir(fx.data, 0700) != 0 || mkdir(fx.out, 0700) != 0 ||
	    fld_pki_paths(&fx.p, fx.data) != 0 ||
	    fld_pki_ensure(&fx.p, &fx.st, &d) != 0 ||
	    fld_pki_ca_load(&fx.ca, &fx.p, &d) != 0) {
		fprintf(stderr, "setup: %s\n", d.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[200];

	(void)state;
	fld_pki_ca_free(fx.ca);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Issues client certificate out/NAME.crt (replacing it). */
static void issue(const char *name)
{
	char key[FLD_PKI_PATH_MAX], crt[FLD_PKI_PATH_MAX];
	struct fld_pki_diag d = {{0}};
	struct fld_pki_req r = {
		FLD_PKI_CLIENT, name, NULL, 0, 30, key, crt, true};

	snprintf(key, sizeof(key), "%s/%s.key", fx.out, name);
	snprintf(crt, sizeof(crt), "%s/%s.crt", fx.out, name);
	assert_int_equal(fld_pki_issue(fx.ca, &r, &d), 0);
}

static X509 *crt_of(const char *name)
{
	char path[FLD_PKI_PATH_MAX];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/%s.crt", fx.out, name);
	f = fopen(path, "r");
	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

/*
 * What OpenSSL's verifier says of out/NAME.crt with the CA and crl.pem,
 * at time at (0: now), as the broker checks a client: X509_V_OK or the
 * error.
 */
static int verify_at(const char *name, time_t at)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_LOOKUP *lu;
	X509 *x = crt_of(name);
	int err;

	assert_non_null(store);
	lu = X509_STORE_add_lookup(store, X509_LOOKUP_file());
	assert_int_equal(
		X509_load_cert_file(lu, fx.p.ca_crt, X509_FILETYPE_PEM), 1);
	assert_int_equal(X509_load_crl_file(lu, fx.p.crl, X509_FILETYPE_PEM),
			 1);
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, x, NULL), 1);
	if (at != 0)
		X509_STORE_CTX_set_time(ctx, 0, at);
	err = X509_verify_cert(ctx) == 1 ? X509_V_OK
					 : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(x);
	return err;
}

static int verify(const char *name)
{
	return verify_at(name, 0);
}

static int revoke_id(const char *id, struct fld_pki_revoke_res *res,
		     struct fld_pki_diag *d)
{
	struct fld_pki_revoke_req r = {id, NULL, NULL, (int64_t)time(NULL)};

	return fld_pki_revoke(fx.ca, &fx.p, &r, res, d);
}

/* crl.pem and the index are byte for byte what they were. */
struct snap {
	char *crl, *index;
};

static void snap_take(struct snap *s)
{
	s->crl = slurp(fx.p.crl);
	s->index = slurp_big(fx.p.issued);
	assert_non_null(s->crl);
	assert_non_null(s->index);
}

static void snap_same(struct snap *s)
{
	char *crl = slurp(fx.p.crl), *index = slurp_big(fx.p.issued);

	assert_string_equal(crl, s->crl);
	assert_string_equal(index, s->index);
	free(crl);
	free(index);
	free(s->crl);
	free(s->index);
}

struct seen {
	unsigned n, n_revoked;
	char last_cn[FLD_PKI_CN_MAX];
};

static void on_issued(void *ctx, const struct fld_pki_issued *c)
{
	struct seen *s = ctx;

	s->n++;
	s->n_revoked += c->is_revoked;
	memcpy(s->last_cn, c->cn, sizeof(s->last_cn));
}

static void test_pki__start_makes_an_empty_crl(void **state)
{
	struct seen s = {0};
	struct fld_pki_diag d = {{0}};
	struct fld_pki_crl_state st;

	(void)state;
	assert_true(fx.st.crl.is_new || fx.st.crl.n_revoked == 0);
	assert_int_equal(fx.st.crl.n_revoked, 0);
	assert_true(fx.st.crl.next_update >=
		    (int64_t)time(NULL) + (FLD_PKI_CRL_DAYS - 1) * DAY_S);
	/* fleetd's own client certificate is in the index. */
	assert_int_equal(fld_pki_list(&fx.p, on_issued, &s, &st, &d), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(strncmp(s.last_cn, "fleetd@", 7), 0);
	assert_int_equal(s.n_revoked, 0);
	issue("dev-1");
	assert_int_equal(verify("dev-1"), X509_V_OK);
}

static void test_pki__revoked_device_refused_other_passes(void **state)
{
	struct fld_pki_revoke_res res;
	struct fld_pki_diag d = {{0}};
	struct fld_pki_crl_state st;
	struct seen s = {0};
	struct snap sn;

	(void)state;
	issue("dev-1");
	issue("dev-2");
	issue("dev-1"); /* a second certificate of the same device */
	assert_int_equal(verify("dev-1"), X509_V_OK);
	assert_int_equal(revoke_id("dev-1", &res, &d), 0);
	assert_int_equal(res.n_new, 2);
	assert_int_equal(res.n_already, 0);
	assert_int_equal(verify("dev-1"), X509_V_ERR_CERT_REVOKED);
	assert_int_equal(verify("dev-2"), X509_V_OK);
	assert_int_equal(fld_pki_list(&fx.p, on_issued, &s, &st, &d), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.n_revoked, 2);
	assert_int_equal(st.n_revoked, 2);

	/* Twice: said, and not a byte changes. */
	snap_take(&sn);
	assert_int_equal(revoke_id("dev-1", &res, &d), 0);
	assert_int_equal(res.n_new, 0);
	assert_int_equal(res.n_already, 2);
	snap_same(&sn);

	/* Issued again: a new serial, which passes. */
	issue("dev-1");
	assert_int_equal(verify("dev-1"), X509_V_OK);
	assert_int_equal(verify("dev-2"), X509_V_OK);
}

static void test_pki__revoke_by_serial_and_by_file(void **state)
{
	struct fld_pki_revoke_res res;
	struct fld_pki_diag d = {{0}};
	char path[FLD_PKI_PATH_MAX], upper[FLD_PKI_SERIAL_MAX];
	struct fld_pki_revoke_req r = {0};

	(void)state;
	issue("dev-3");
	issue("dev-4");
	snprintf(path, sizeof(path), "%s/dev-3.crt", fx.out);
	r.crt_path = path;
	r.now = (int64_t)time(NULL);
	assert_int_equal(fld_pki_revoke(fx.ca, &fx.p, &r, &res, &d), 0);
	assert_int_equal(res.n_new, 1);
	assert_int_equal(verify("dev-3"), X509_V_ERR_CERT_REVOKED);
	assert_int_equal(verify("dev-4"), X509_V_OK);

	/* dev-4 by its serial, written in capitals. */
	{
		X509 *x = crt_of("dev-4");
		ASN1_INTEGER *ai = X509_get_serialNumber(x);
		BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
		char *h = BN_bn2hex(bn);

		snprintf(upper, sizeof(upper), "%s", h);
		OPENSSL_free(h);
		BN_free(bn);
		X509_free(x);
	}
	memset(&r, 0, sizeof(r));
	r.serial = upper;
	r.now = (int64_t)time(NULL);
	assert_int_equal(fld_pki_revoke(fx.ca, &fx.p, &r, &res, &d), 0);
	assert_int_equal(res.n_new, 1);
	assert_int_equal(verify("dev-4"), X509_V_ERR_CERT_REVOKED);
}

static void test_pki__bad_requests_change_nothing(void **state)
{
	struct fld_pki_revoke_res res;
	struct fld_pki_diag d = {{0}};
	struct fld_pki_revoke_req r = {0};
	struct snap sn;
	char path[FLD_PKI_PATH_MAX];

	(void)state;
	issue("dev-1");
	snap_take(&sn);
	assert_int_equal(revoke_id("nobody", &res, &d), FL_ENOENT);
	assert_non_null(strstr(d.msg, "no certificate was issued to `nobody`"));
	assert_int_equal(revoke_id("a b", &res, &d), FL_EINVAL);
	assert_int_equal(revoke_id("", &res, &d), FL_EINVAL);
	r.serial = "xyz";
	assert_int_equal(fld_pki_revoke(fx.ca, &fx.p, &r, &res, &d), FL_EINVAL);
	r.serial = "0123456789abcdef0123456789abcdef0123456789";
	assert_int_equal(fld_pki_revoke(fx.ca, &fx.p, &r, &res, &d), FL_EINVAL);
	r.id = "dev-1"; /* two at once */
	r.serial = "ab";
	assert_int_equal(fld_pki_revoke(fx.ca, &fx.p, &r, &res, &d), FL_EINVAL);
	memset(&r, 0, sizeof(r));
	assert_int_equal(fld_pki_revoke(fx.ca, &fx.p, &r, &res, &d), FL_EINVAL);
	/* A certificate file that is not one, or another CA's. */
	snprintf(path, sizeof(path), "%s/junk.crt", fx.out);
	put(path, "not a certificate\n", "w");
	r.crt_path = path;
	assert_int_equal(fld_pki_revoke(fx.ca, &fx.p, &r, &res, &d),
			 FL_ECORRUPT);
	{
		struct fld_pki_paths p2;
		struct fld_pki_state st2;
		char data2[128];

		snprintf(data2, sizeof(data2), "%s/other", fx.dir);
		assert_int_equal(mkdir(data2, 0700), 0);
		assert_int_equal(fld_pki_paths(&p2, data2), 0);
		assert_int_equal(fld_pki_ensure(&p2, &st2, &d), 0);
		r.crt_path = p2.cli_crt;
		assert_int_equal(fld_pki_revoke(fx.ca, &fx.p, &r, &res, &d),
				 FL_ECORRUPT);
		assert_non_null(strstr(d.msg, "not issued by the fleet CA"));
	}
	/* fleetd's own certificate: by file and by name. */
	r.crt_path = fx.p.cli_crt;
	assert_int_equal(fld_pki_revoke(fx.ca, &fx.p, &r, &res, &d), FL_EINVAL);
	assert_non_null(strstr(d.msg, "fleetd's own certificate"));
	assert_int_equal(revoke_id(fx.st.client_cn, &res, &d), FL_EINVAL);
	snap_same(&sn);
	assert_int_equal(verify("dev-1"), X509_V_OK);
}

static void test_pki__damaged_files_refused(void **state)
{
	struct fld_pki_revoke_res res;
	struct fld_pki_diag d = {{0}};
	struct fld_pki_crl_state st;
	struct seen s = {0};
	char *index, *crl;
	struct snap sn;

	(void)state;
	issue("dev-1");
	index = slurp_big(fx.p.issued);
	crl = slurp(fx.p.crl);

	/* A line that does not parse: its number, nothing changed. */
	put(fx.p.issued, "dev-9 nothex 1 2\n", "a");
	snap_take(&sn);
	assert_int_equal(revoke_id("dev-1", &res, &d), FL_ECORRUPT);
	assert_non_null(strstr(d.msg, "issued:4:"));
	assert_int_equal(fld_pki_list(&fx.p, on_issued, &s, &st, &d),
			 FL_ECORRUPT);
	snap_same(&sn);
	put(fx.p.issued, index, "w");

	/* A torn last append is not a certificate, and the next append
	 * cuts it off. */
	put(fx.p.issued, "dev-1 4a4a", "a");
	s.n = 0;
	assert_int_equal(fld_pki_list(&fx.p, on_issued, &s, &st, &d), 0);
	assert_int_equal(s.n, 2);
	issue("dev-2");
	{
		char *now = slurp_big(fx.p.issued);

		assert_null(strstr(now, "4a4a"));
		assert_non_null(strstr(now, "\ndev-2 "));
		free(now);
	}

	/* A CRL that is not one, and one of another CA. */
	put(fx.p.crl, "junk\n", "w");
	assert_int_equal(revoke_id("dev-1", &res, &d), FL_ECORRUPT);
	assert_int_equal(fld_pki_crl_check(fx.ca, &fx.p, (int64_t)time(NULL),
					   FLD_PKI_CRL_RENEW_DAYS, &st, &d),
			 FL_ECORRUPT);
	{
		char *now = slurp(fx.p.crl);

		assert_string_equal(now, "junk\n");
		free(now);
	}
	{
		struct fld_pki_paths p2;
		struct fld_pki_state st2;
		char data2[128], *other;

		snprintf(data2, sizeof(data2), "%s/other2", fx.dir);
		assert_int_equal(mkdir(data2, 0700), 0);
		assert_int_equal(fld_pki_paths(&p2, data2), 0);
		assert_int_equal(fld_pki_ensure(&p2, &st2, &d), 0);
		other = slurp(p2.crl);
		put(fx.p.crl, other, "w");
		assert_int_equal(
			fld_pki_crl_check(fx.ca, &fx.p, (int64_t)time(NULL),
					  FLD_PKI_CRL_RENEW_DAYS, &st, &d),
			FL_ECORRUPT);
		assert_non_null(strstr(d.msg, "not signed by the fleet CA"));
		/* fleetd refuses to start on it. */
		assert_int_equal(fld_pki_ensure(&fx.p, &fx.st, &d),
				 FL_ECORRUPT);
		free(other);
	}
	put(fx.p.crl, crl, "w");
	assert_int_equal(revoke_id("dev-1", &res, &d), 0);
	free(index);
	free(crl);
}

static void test_pki__crl_near_lapse_resigned(void **state)
{
	struct fld_pki_revoke_res res;
	struct fld_pki_diag d = {{0}};
	struct fld_pki_crl_state st, st2;
	int64_t now = (int64_t)time(NULL);
	char *before;

	(void)state;
	issue("dev-1");
	issue("dev-2");
	assert_int_equal(revoke_id("dev-1", &res, &d), 0);

	/* Valid 2 days more: re-signed, the same serials, 30 days. */
	assert_int_equal(fld_pki_crl_resign(fx.ca, &fx.p, now, 2, &st, &d), 0);
	assert_true(st.next_update <= now + 2 * DAY_S);
	assert_int_equal(fld_pki_crl_check(fx.ca, &fx.p, now,
					   FLD_PKI_CRL_RENEW_DAYS, &st2, &d),
			 0);
	assert_true(st2.is_resigned);
	assert_true(st2.next_update >= now + (FLD_PKI_CRL_DAYS - 1) * DAY_S);
	assert_int_equal(st2.n_revoked, 1);
	assert_memory_equal(st.digest, st2.digest, sizeof(st.digest));
	assert_int_equal(verify("dev-1"), X509_V_ERR_CERT_REVOKED);
	assert_int_equal(verify("dev-2"), X509_V_OK);

	/* Far from its next update: left alone. */
	before = slurp(fx.p.crl);
	assert_int_equal(fld_pki_crl_check(fx.ca, &fx.p, now,
					   FLD_PKI_CRL_RENEW_DAYS, &st, &d),
			 0);
	assert_false(st.is_resigned);
	{
		char *after = slurp(fx.p.crl);

		assert_string_equal(before, after);
		free(after);
	}
	free(before);

	/* Lapsed (signed 40 days ago for 30): OpenSSL refuses every client,
	 * the good one too; the check re-signs it and they pass again. */
	assert_int_equal(
		fld_pki_crl_resign(fx.ca, &fx.p, now - 40 * DAY_S, 30, &st, &d),
		0);
	assert_int_equal(verify("dev-2"), X509_V_ERR_CRL_HAS_EXPIRED);
	assert_int_equal(fld_pki_crl_check(fx.ca, &fx.p, now,
					   FLD_PKI_CRL_RENEW_DAYS, &st, &d),
			 0);
	assert_true(st.is_resigned);
	assert_int_equal(verify("dev-2"), X509_V_OK);
	assert_int_equal(verify("dev-1"), X509_V_ERR_CERT_REVOKED);
	/* ... and fleetd's start does the same. */
	assert_int_equal(
		fld_pki_crl_resign(fx.ca, &fx.p, now - 40 * DAY_S, 30, &st, &d),
		0);
	assert_int_equal(fld_pki_ensure(&fx.p, &fx.st, &d), 0);
	assert_true(fx.st.crl.is_resigned);
	assert_int_equal(verify("dev-2"), X509_V_OK);
	assert_int_equal(fld_pki_crl_resign(fx.ca, &fx.p, now, 0, &st, &d),
			 FL_EINVAL);
}

static void test_pki__new_ca_starts_empty(void **state)
{
	struct fld_pki_revoke_res res;
	struct fld_pki_diag d = {{0}};
	struct seen s = {0};
	struct fld_pki_crl_state st;

	(void)state;
	issue("dev-1");
	assert_int_equal(revoke_id("dev-1", &res, &d), 0);
	assert_int_equal(fld_pki_make_ca(&fx.p, 10, true, &d), 0);
	assert_int_equal(fld_pki_list(&fx.p, on_issued, &s, &st, &d), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(st.n_revoked, 0);
	assert_int_equal(revoke_id("dev-1", &res, &d), FL_ENOENT);
}

/* fld_pki_check_pair: an issued pair passes with its name and days left;
 * a key of another pair, a certificate of another CA and a missing file
 * are refused with what is wrong. */
static void test_pki__check_pair(void **state)
{
	char key[FLD_PKI_PATH_MAX], crt[FLD_PKI_PATH_MAX];
	char key2[FLD_PKI_PATH_MAX], other[FLD_PKI_PATH_MAX];
	char cn[FLD_PKI_CN_MAX];
	struct fld_pki_diag d = {{0}};
	struct fld_pki_paths p2;
	struct fld_pki_state st2;
	struct fld_pki_ca *ca2 = NULL;
	int days = -1;

	(void)state;
	issue("pair-a");
	issue("pair-b");
	snprintf(key, sizeof(key), "%s/pair-a.key", fx.out);
	snprintf(crt, sizeof(crt), "%s/pair-a.crt", fx.out);
	snprintf(key2, sizeof(key2), "%s/pair-b.key", fx.out);
	assert_int_equal(fld_pki_check_pair(fx.ca, key, crt, "fix", &days, cn,
					    sizeof(cn), &d),
			 0);
	assert_string_equal(cn, "pair-a");
	assert_true(days >= 29 && days <= 30);
	assert_int_equal(
		fld_pki_check_pair(fx.ca, key2, crt, "fix", NULL, NULL, 0, &d),
		FL_ESTATE);
	assert_non_null(strstr(d.msg, "does not belong"));
	/* another fleet CA: its certificate is not this one's */
	snprintf(other, sizeof(other), "%s/data2", fx.dir);
	assert_int_equal(mkdir(other, 0700), 0);
	assert_int_equal(fld_pki_paths(&p2, other), 0);
	assert_int_equal(fld_pki_ensure(&p2, &st2, &d), 0);
	assert_int_equal(fld_pki_ca_load(&ca2, &p2, &d), 0);
	assert_int_equal(
		fld_pki_check_pair(ca2, key, crt, "fix", NULL, NULL, 0, &d),
		FL_ESTATE);
	assert_non_null(strstr(d.msg, "not issued by the fleet CA"));
	assert_int_equal(fld_pki_check_pair(ca2, p2.cli_key, p2.cli_crt, "fix",
					    NULL, NULL, 0, &d),
			 0);
	fld_pki_ca_free(ca2);
	snprintf(other, sizeof(other), "%s/none.crt", fx.out);
	assert_int_not_equal(
		fld_pki_check_pair(fx.ca, key, other, "fix", NULL, NULL, 0, &d),
		0);
	assert_int_equal(
		fld_pki_check_pair(NULL, key, crt, "fix", NULL, NULL, 0, &d),
		FL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_pki__start_makes_an_empty_crl, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pki__revoked_device_refused_other_passes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_pki__revoke_by_serial_and_by_file, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_pki__bad_requests_change_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pki__damaged_files_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pki__crl_near_lapse_resigned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pki__new_ca_starts_empty,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pki__check_pair, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
