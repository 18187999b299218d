/*
 * test_signer.c -- fleetd's signing key (orchestrator/fleetd/signer.c) on
 * real files: created on first open with mode 0600 in a 0700 directory and
 * its public line written for devices; the same key loaded again; a key
 * file group or others may read, a directory others may write, a file
 * that is not a P-256 private key (junk, P-384) refused with a clear
 * reason; a .tmp left by a crash removed; a manifest sealed through the
 * runner's signing port verifies with fl_manifest_verify and the exported
 * public key, and fails when tampered with or checked against another
 * key.
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
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/proto.h"
#include "signer.h"

struct tmp {
	char dir[64];
	char keys[96], key[128], tmp[128], pub[128];
};

static void tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/fl-signer-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->keys, sizeof(t->keys), "%s/keys", t->dir);
	snprintf(t->key, sizeof(t->key), "%s/signing.pem", t->keys);
	snprintf(t->tmp, sizeof(t->tmp), "%s/signing.pem.tmp", t->keys);
	snprintf(t->pub, sizeof(t->pub), "%s/signing.pub", t->keys);
}

static void tmp_remove(struct tmp *t)
{
	(void)chmod(t->keys, 0700);
	(void)unlink(t->key);
	(void)unlink(t->tmp);
	(void)unlink(t->pub);
	(void)rmdir(t->keys);
	assert_int_equal(rmdir(t->dir), 0);
}

static unsigned mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (unsigned)(st.st_mode & 07777);
}

static void write_file(const char *path, const char *text, unsigned mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* The trusted key as a device reads it: the line in signing.pub. */
static void read_pub(const struct tmp *t, struct fl_manifest_key *key)
{
	char buf[256];
	FILE *f = fopen(t->pub, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_int_equal(n, 131); /* 130 hex digits and a newline */
	assert_int_equal(buf[130], '\n');
	assert_int_equal(fl_manifest_key_parse(key, &fl_crypto_openssl, buf, n),
			 0);
}

static void test_signer__creates_key_0600_in_0700_dir(void **state)
{
	struct fl_signer_diag diag = {""};
	struct fl_manifest_key key;
	struct fl_signer *s = NULL;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(fl_signer_open(&s, t.dir, &diag), 0);
	assert_true(fl_signer_is_new(s));
	assert_string_equal(fl_signer_path(s), t.key);
	assert_int_equal(mode_of(t.key), 0600);
	assert_int_equal(mode_of(t.keys), 0700);
	assert_int_equal(access(t.tmp, F_OK), -1);
	read_pub(&t, &key);
	assert_memory_equal(key.pub, fl_sign_key_pub(fl_signer_key(s)),
			    FL_MANIFEST_PUB_BYTES);
	assert_memory_equal(key.kid, fl_sign_key_kid(fl_signer_key(s)),
			    FL_MANIFEST_KID_BYTES);
	fl_signer_free(s);
	tmp_remove(&t);
}

static void test_signer__reloads_the_same_key(void **state)
{
	uint8_t pub[FL_MANIFEST_PUB_BYTES];
	struct fl_signer *s = NULL;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(fl_signer_open(&s, t.dir, NULL), 0);
	memcpy(pub, fl_sign_key_pub(fl_signer_key(s)), sizeof(pub));
	fl_signer_free(s);
	s = NULL;
	assert_int_equal(fl_signer_open(&s, t.dir, NULL), 0);
	assert_false(fl_signer_is_new(s));
	assert_memory_equal(pub, fl_sign_key_pub(fl_signer_key(s)),
			    sizeof(pub));
	assert_int_equal(mode_of(t.key), 0600);
	fl_signer_free(s);
	tmp_remove(&t);
}

static void test_signer__refuses_a_key_others_can_read(void **state)
{
	static const unsigned modes[] = {0644, 0640, 0604, 0660};
	struct fl_signer_diag diag = {""};
	struct fl_signer *s = NULL;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(fl_signer_open(&s, t.dir, NULL), 0);
	fl_signer_free(s);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char want[8];

		s = NULL;
		assert_int_equal(chmod(t.key, modes[i]), 0);
		assert_int_equal(fl_signer_open(&s, t.dir, &diag), FL_ESTATE);
		assert_null(s);
		snprintf(want, sizeof(want), "%04o", modes[i]);
		assert_non_null(strstr(diag.msg, want));
		assert_non_null(strstr(diag.msg, "chmod 600"));
		assert_non_null(strstr(diag.msg, t.key));
		/* Refused, not replaced. */
		assert_int_equal(mode_of(t.key), modes[i]);
	}
	assert_int_equal(chmod(t.key, 0600), 0);
	assert_int_equal(fl_signer_open(&s, t.dir, NULL), 0);
	fl_signer_free(s);
	tmp_remove(&t);
}

static void test_signer__refuses_a_directory_others_can_write(void **state)
{
	struct fl_signer_diag diag = {""};
	struct fl_signer *s = NULL;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(mkdir(t.keys, 0700), 0);
	assert_int_equal(chmod(t.keys, 0777), 0);
	assert_int_equal(fl_signer_open(&s, t.dir, &diag), FL_ESTATE);
	assert_non_null(strstr(diag.msg, "chmod 700"));
	assert_int_equal(access(t.key, F_OK), -1); /* nothing created */
	tmp_remove(&t);
}

static void test_signer__refuses_what_is_not_a_p256_private_key(void **state)
{
	struct fl_signer_diag diag = {""};
	struct fl_signer *s = NULL;
	EVP_PKEY *p384;
	FILE *f;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(mkdir(t.keys, 0700), 0);
	write_file(t.key, "not a key\n", 0600);
	assert_int_equal(fl_signer_open(&s, t.dir, &diag), FL_EINVAL);
	assert_non_null(strstr(diag.msg, "not a PEM private key"));

	p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	assert_non_null(p384);
	f = fopen(t.key, "w");
	assert_non_null(f);
	assert_true(PEM_write_PrivateKey(f, p384, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	EVP_PKEY_free(p384);
	assert_int_equal(fl_signer_open(&s, t.dir, &diag), FL_EINVAL);
	assert_non_null(strstr(diag.msg, "not a P-256 key"));
	assert_null(s);
	tmp_remove(&t);
}

static void test_signer__removes_a_crash_leftover(void **state)
{
	struct fl_signer *s = NULL;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(mkdir(t.keys, 0700), 0);
	write_file(t.tmp, "half a key", 0600);
	assert_int_equal(fl_signer_open(&s, t.dir, NULL), 0);
	assert_true(fl_signer_is_new(s));
	assert_int_equal(access(t.tmp, F_OK), -1);
	assert_int_equal(mode_of(t.key), 0600);
	fl_signer_free(s);
	tmp_remove(&t);
}

static void test_signer__missing_data_dir_fails(void **state)
{
	struct fl_signer_diag diag = {""};
	struct fl_signer *s = NULL;

	(void)state;
	assert_int_equal(fl_signer_open(&s, "/nonexistent/fl-data", &diag),
			 FL_EIO);
	assert_null(s);
	assert_non_null(strstr(diag.msg, "/nonexistent/fl-data/keys"));
	assert_int_equal(fl_signer_open(&s, "", &diag), FL_EINVAL);
}

static void sample(struct fl_manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->v = FL_MANIFEST_BODY_VERSION;
	snprintf(m->component, sizeof(m->component), "firmware");
	snprintf(m->version, sizeof(m->version), "2.4.0");
	m->n_hardware = 1;
	snprintf(m->hardware[0], sizeof(m->hardware[0]), "thermo-v2");
	m->length = 65536;
	memset(m->sha256, 0xab, sizeof(m->sha256));
	snprintf(m->url, sizeof(m->url), "http://127.0.0.1:8780/artifacts/%s",
		 "abab");
	m->seq = 42;
	m->issued = 1795436400;
	m->expires = m->issued + 86400;
}

static void
test_signer__sealed_manifest_verifies_with_exported_key(void **state)
{
	static struct fl_manifest_env env;
	struct fl_manifest m, out;
	struct fl_manifest_key key, other;
	struct fl_sign_key *k2 = NULL;
	struct fl_signer *s = NULL;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(fl_signer_open(&s, t.dir, NULL), 0);
	read_pub(&t, &key);
	sample(&m);
	/* Through the runner's port, as the runner calls it. */
	assert_int_equal(fl_signer_sign_ops.seal(s, &env, &m), 0);
	assert_int_equal(fl_manifest_verify(&out, &env, &key, 1,
					    &fl_crypto_openssl, NULL),
			 0);
	assert_string_equal(out.version, "2.4.0");
	assert_int_equal(out.seq, 42);
	assert_memory_equal(out.sha256, m.sha256, sizeof(m.sha256));

	/* Another key: unknown kid. */
	assert_int_equal(fl_sign_key_generate(&k2, NULL), 0);
	memcpy(other.pub, fl_sign_key_pub(k2), sizeof(other.pub));
	memcpy(other.kid, fl_sign_key_kid(k2), sizeof(other.kid));
	assert_int_equal(fl_manifest_verify(&out, &env, &other, 1,
					    &fl_crypto_openssl, NULL),
			 FL_ENOENT);
	/* Another key under our kid: the signature does not verify. */
	memcpy(other.kid, key.kid, sizeof(other.kid));
	assert_int_equal(fl_manifest_verify(&out, &env, &other, 1,
					    &fl_crypto_openssl, NULL),
			 FL_EVERIFY);
	fl_sign_key_free(k2);

	/* A changed body byte. */
	env.body[env.body_len / 2] ^= 0x01;
	assert_int_equal(fl_manifest_verify(&out, &env, &key, 1,
					    &fl_crypto_openssl, NULL),
			 FL_EVERIFY);
	assert_int_equal(fl_signer_seal(NULL, &env, &m), FL_EINVAL);
	fl_signer_free(s);
	tmp_remove(&t);
}

/* Writes DATA/keys/<kid>.cert for the signer's key, by root. */
static void write_cert(const struct tmp *t, const struct fl_signer *s,
		       const struct fl_sign_key *root, uint64_t not_before,
		       uint64_t not_after, char *path, size_t cap)
{
	struct fl_manifest_cert c;
	uint8_t raw[FL_CERT_BYTES];
	char kid[FL_SIGN_KID_HEX_MAX];

	memset(&c, 0, sizeof(c));
	c.roles = FL_CERT_ROLE_RELEASE | FL_CERT_ROLE_ROLLBACK;
	c.generation = 3;
	c.floor = 2;
	c.not_before = not_before;
	c.not_after = not_after;
	memcpy(c.pub, fl_sign_key_pub(fl_signer_key(s)), sizeof(c.pub));
	assert_int_equal(fl_sign_key_certify(root, raw, &c), 0);
	fl_sign_key_kid_hex(fl_signer_key(s), kid);
	snprintf(path, cap, "%s/%s.cert", t->keys, kid);
	assert_int_equal(fl_sign_cert_write(path, raw, NULL), 0);
}

static void test_signer__certified_key_seals_envelope_2(void **state)
{
	static struct fl_manifest_env env;
	struct fl_manifest m, out;
	struct fl_manifest_key root_pub;
	struct fl_manifest_trust tr;
	struct fl_manifest_signer who;
	struct fl_sign_key *root = NULL;
	struct fl_signer *s = NULL;
	struct fl_signer_diag diag;
	char cert[256];
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(fl_sign_key_generate(&root, NULL), 0);
	memcpy(root_pub.pub, fl_sign_key_pub(root), sizeof(root_pub.pub));
	memcpy(root_pub.kid, fl_sign_key_kid(root), sizeof(root_pub.kid));
	assert_int_equal(fl_signer_open(&s, t.dir, NULL), 0);
	assert_null(fl_signer_cert(s));
	write_cert(&t, s, root, 1000, (uint64_t)time(NULL) + 3650 * 86400ull,
		   cert, sizeof(cert));
	fl_signer_free(s);
	assert_int_equal(fl_signer_open(&s, t.dir, NULL), 0);
	assert_non_null(fl_signer_cert(s));
	sample(&m);
	assert_int_equal(fl_signer_sign_ops.seal(s, &env, &m), 0);
	assert_int_equal(env.v, FL_MANIFEST_ENV_CERTIFIED);
	/* A device that trusts only the root takes it. */
	memset(&tr, 0, sizeof(tr));
	tr.roots = &root_pub;
	tr.n_roots = 1;
	tr.key_floor = 2;
	assert_int_equal(fl_manifest_verify_trusted(&out, &who, &env, &tr,
						    &fl_crypto_openssl, NULL),
			 0);
	assert_int_equal(who.generation, 3);
	assert_int_equal(out.seq, 42);
	fl_signer_free(s);

	/* A certificate that has ended: fleetd refuses to start with it. */
	s = NULL;
	assert_int_equal(fl_signer_open(&s, t.dir, NULL), 0);
	write_cert(&t, s, root, 1000, 2000, cert, sizeof(cert));
	fl_signer_free(s);
	s = NULL;
	assert_int_equal(fl_signer_open(&s, t.dir, &diag), FL_ESTATE);
	assert_non_null(strstr(diag.msg, "ended"));
	assert_int_equal(unlink(cert), 0);
	fl_sign_key_free(root);
	tmp_remove(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signer__creates_key_0600_in_0700_dir),
		cmocka_unit_test(test_signer__reloads_the_same_key),
		cmocka_unit_test(test_signer__refuses_a_key_others_can_read),
		cmocka_unit_test(
			test_signer__refuses_a_directory_others_can_write),
		cmocka_unit_test(
			test_signer__refuses_what_is_not_a_p256_private_key),
		cmocka_unit_test(test_signer__removes_a_crash_leftover),
		cmocka_unit_test(test_signer__missing_data_dir_fails),
		cmocka_unit_test(test_signer__certified_key_seals_envelope_2),
		cmocka_unit_test(
			test_signer__sealed_manifest_verifies_with_exported_key),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
