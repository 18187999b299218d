/*
 * test_manifest.c -- the signed manifest (common/proto/manifest.c):
 * signatures made here with OpenSSL, verified through BOTH crypto ports
 * (fl_crypto_openssl and fl_crypto_mbedtls): every test runs once per port.
 *
 * Covered: seal then verify; a tampered body, a tampered signature, a wrong
 * or unknown key; malformed envelopes; bodies that are validly signed but
 * do not parse or break a rule (the signature is checked first, the body
 * after); length, sequence and size limits; the device-side checks
 * (expiry, anti-rollback, downgrade, model, component, "from"); and a
 * golden vector, the manifest printed in docs/protocol.md, which pins the
 * format: if it stops verifying, devices in the field would break too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "fl/crypto_mbedtls.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/proto.h"

struct port {
	const struct fl_crypto_ops *ops;
};

static EVP_PKEY *key_a, *key_b;
static struct fl_manifest_key trusted_a, trusted_b;

/* ---- signing with OpenSSL ----------------------------------------------- */

static int sign_digest(void *ctx, const uint8_t digest[FL_SHA256_BYTES],
		       uint8_t sig[FL_MANIFEST_SIG_BYTES])
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new((EVP_PKEY *)ctx, NULL);
	unsigned char der[128];
	const unsigned char *p = der;
	size_t der_len = sizeof(der);
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;
	int err = FL_ECRYPTO;

	if (pctx == NULL || EVP_PKEY_sign_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_sign(pctx, der, &der_len, digest, FL_SHA256_BYTES) != 1)
		goto out;
	es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (es == NULL)
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, 32) == 32 &&
	    BN_bn2binpad(s, sig + 32, 32) == 32)
		err = 0;
out:
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(pctx);
	return err;
}

static int failing_sign(void *ctx, const uint8_t digest[FL_SHA256_BYTES],
			uint8_t sig[FL_MANIFEST_SIG_BYTES])
{
	return FL_EIO;
}

static void trusted_of(EVP_PKEY *k, struct fl_manifest_key *t)
{
	size_t n = 0;

	assert_true(EVP_PKEY_get_octet_string_param(
		k, "encoded-pub-key", t->pub, sizeof(t->pub), &n));
	assert_int_equal(n, FL_MANIFEST_PUB_BYTES);
	assert_int_equal(fl_manifest_kid(t->kid, &fl_crypto_openssl, t->pub),
			 0);
}

/* An envelope over arbitrary body bytes, signed with k. */
static void sign_raw(struct fl_manifest_env *env, const char *body, size_t len,
		     EVP_PKEY *k, const struct fl_manifest_key *t)
{
	uint8_t digest[FL_SHA256_BYTES];

	assert_true(len <= FL_MANIFEST_BODY_MAX);
	memset(env, 0, sizeof(*env));
	env->v = FL_MANIFEST_ENV_VERSION;
	memcpy(env->kid, t->kid, sizeof(env->kid));
	memcpy(env->body, body, len);
	env->body_len = (uint16_t)len;
	assert_int_equal(fl_sha256(&fl_crypto_openssl, body, len, digest), 0);
	assert_int_equal(sign_digest(k, digest, env->sig), 0);
}

static void sample(struct fl_manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->v = FL_MANIFEST_BODY_VERSION;
	strcpy(m->component, "firmware");
	strcpy(m->version, "1.5.0");
	m->n_hardware = 2;
	strcpy(m->hardware[0], "acme-gw-2");
	strcpy(m->hardware[1], "acme-gw-3");
	m->length = 65536;
	for (int i = 0; i < FL_SHA256_BYTES; i++)
		m->sha256[i] = (uint8_t)(i * 9);
	strcpy(m->url, "https://fleetd.local/artifacts/fw-1.5.0.bin");
	m->seq = 42;
	m->issued = 1748736000;
	m->expires = 1751328000;
}

static int group_setup(void **state)
{
	key_a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	key_b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (key_a == NULL || key_b == NULL)
		return -1;
	trusted_of(key_a, &trusted_a);
	trusted_of(key_b, &trusted_b);
	return 0;
}

static int group_teardown(void **state)
{
	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
	return 0;
}

static const struct fl_crypto_ops *ops(void **state)
{
	return ((struct port *)*state)->ops;
}

/* ---- verification ------------------------------------------------------- */

static void test_manifest__sealed_manifest_verifies(void **state)
{
	static struct fl_manifest_env env, env2;
	static char text[2048];
	struct fl_manifest m, out;
	size_t n;

	sample(&m);
	assert_int_equal(fl_manifest_seal(&env, &m, trusted_a.kid,
					  &fl_crypto_openssl, sign_digest,
					  key_a),
			 0);
	assert_int_equal(
		fl_manifest_verify(&out, &env, &trusted_a, 1, ops(state), NULL),
		0);
	assert_memory_equal(&m, &out, sizeof(m));

	/* through its JSON form, as a file or inside a command */
	assert_int_equal(fl_manifest_env_encode(text, sizeof(text), &n, &env),
			 0);
	assert_int_equal(fl_manifest_env_decode(&env2, text, n, NULL), 0);
	assert_memory_equal(&env, &env2, sizeof(env));
	assert_int_equal(fl_manifest_verify(&out, &env2, &trusted_a, 1,
					    ops(state), NULL),
			 0);

	/* the body is exactly what the body encoder writes */
	{
		uint8_t body[FL_MANIFEST_BODY_MAX + 1];

		assert_int_equal(
			fl_manifest_body_encode(body, sizeof(body), &n, &m), 0);
		assert_int_equal(n, env.body_len);
		assert_memory_equal(body, env.body, n);
	}
}

static void test_manifest__tampered_body_fails(void **state)
{
	static struct fl_manifest_env env, bad;
	struct fl_manifest m, out;
	struct fl_proto_diag d;

	sample(&m);
	assert_int_equal(fl_manifest_seal(&env, &m, trusted_a.kid,
					  &fl_crypto_openssl, sign_digest,
					  key_a),
			 0);
	for (unsigned i = 0; i < env.body_len; i += 7) {
		bad = env;
		bad.body[i] ^= 0x01;
		d.msg[0] = '\0';
		assert_int_equal(fl_manifest_verify(&out, &bad, &trusted_a, 1,
						    ops(state), &d),
				 FL_EVERIFY);
		assert_non_null(strstr(d.msg, "signature"));
		assert_int_equal(out.v, 0); /* nothing parsed */
	}
	bad = env;
	bad.body_len--; /* truncated */
	assert_int_equal(
		fl_manifest_verify(&out, &bad, &trusted_a, 1, ops(state), NULL),
		FL_EVERIFY);
	/* same meaning, other bytes: a space is a tamper too */
	bad = env;
	memmove(bad.body + 2, bad.body + 1, bad.body_len - 1);
	bad.body[1] = ' ';
	bad.body_len++;
	assert_int_equal(
		fl_manifest_verify(&out, &bad, &trusted_a, 1, ops(state), NULL),
		FL_EVERIFY);
}

static void test_manifest__tampered_signature_fails(void **state)
{
	/* The P-256 group order n. */
	static const uint8_t order[32] = {
		0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
		0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
	};
	static struct fl_manifest_env env, bad;
	struct fl_manifest m, out;

	sample(&m);
	assert_int_equal(fl_manifest_seal(&env, &m, trusted_a.kid,
					  &fl_crypto_openssl, sign_digest,
					  key_a),
			 0);
	for (unsigned i = 0; i < FL_MANIFEST_SIG_BYTES; i += 5) {
		bad = env;
		bad.sig[i] ^= 0x80;
		assert_int_equal(fl_manifest_verify(&out, &bad, &trusted_a, 1,
						    ops(state), NULL),
				 FL_EVERIFY);
	}
	bad = env;
	memset(bad.sig, 0, 32); /* r = 0 */
	assert_int_equal(
		fl_manifest_verify(&out, &bad, &trusted_a, 1, ops(state), NULL),
		FL_EVERIFY);
	bad = env;
	memcpy(bad.sig + 32, order, 32); /* s = n */
	assert_int_equal(
		fl_manifest_verify(&out, &bad, &trusted_a, 1, ops(state), NULL),
		FL_EVERIFY);
	bad = env;
	memset(bad.sig, 0xff, sizeof(bad.sig));
	assert_int_equal(
		fl_manifest_verify(&out, &bad, &trusted_a, 1, ops(state), NULL),
		FL_EVERIFY);
}

static void test_manifest__wrong_or_unknown_key_fails(void **state)
{
	static struct fl_manifest_env env, forged;
	struct fl_manifest_key both[2] = {trusted_b, trusted_a};
	struct fl_manifest_key imposter = trusted_b;
	struct fl_manifest m, out;
	struct fl_proto_diag d = {""};

	sample(&m);
	assert_int_equal(fl_manifest_seal(&env, &m, trusted_a.kid,
					  &fl_crypto_openssl, sign_digest,
					  key_a),
			 0);
	/* only B is trusted: no key with A's id */
	assert_int_equal(
		fl_manifest_verify(&out, &env, &trusted_b, 1, ops(state), &d),
		FL_ENOENT);
	assert_non_null(strstr(d.msg, "kid"));
	assert_int_equal(
		fl_manifest_verify(&out, &env, NULL, 0, ops(state), NULL),
		FL_ENOENT);
	/* the key is picked by id among several */
	assert_int_equal(
		fl_manifest_verify(&out, &env, both, 2, ops(state), NULL), 0);
	/* signed by B but claiming A's id: A's key does not verify it */
	sign_raw(&forged, (const char *)env.body, env.body_len, key_b,
		 &trusted_a);
	assert_int_equal(fl_manifest_verify(&out, &forged, &trusted_a, 1,
					    ops(state), NULL),
			 FL_EVERIFY);
	/* two trusted keys sharing an id: each is tried */
	memcpy(imposter.kid, trusted_a.kid, sizeof(imposter.kid));
	{
		struct fl_manifest_key pair[2] = {imposter, trusted_a};

		assert_int_equal(fl_manifest_verify(&out, &env, pair, 2,
						    ops(state), NULL),
				 0);
		assert_int_equal(fl_manifest_verify(&out, &env, pair, 1,
						    ops(state), NULL),
				 FL_EVERIFY);
	}
	/* a malformed trusted key is the caller's error */
	imposter = trusted_a;
	imposter.pub[0] = 0x05;
	assert_int_equal(
		fl_manifest_verify(&out, &env, &imposter, 1, ops(state), NULL),
		FL_EINVAL);
}

static void test_manifest__malformed_envelope_fails(void **state)
{
	static struct fl_manifest_env env, bad;
	struct fl_crypto_ops hash_only = *ops(state);
	struct fl_manifest m, out;

	sample(&m);
	assert_int_equal(fl_manifest_seal(&env, &m, trusted_a.kid,
					  &fl_crypto_openssl, sign_digest,
					  key_a),
			 0);
	bad = env;
	bad.v = 3;
	assert_int_equal(
		fl_manifest_verify(&out, &bad, &trusted_a, 1, ops(state), NULL),
		FL_ENOTSUP);
	bad = env;
	bad.body_len = 0;
	assert_int_equal(
		fl_manifest_verify(&out, &bad, &trusted_a, 1, ops(state), NULL),
		FL_EINVAL);
	bad = env;
	bad.body_len = FL_MANIFEST_BODY_MAX + 1;
	assert_int_equal(
		fl_manifest_verify(&out, &bad, &trusted_a, 1, ops(state), NULL),
		FL_EINVAL);
	assert_int_equal(
		fl_manifest_verify(NULL, &env, &trusted_a, 1, ops(state), NULL),
		FL_EINVAL);
	assert_int_equal(
		fl_manifest_verify(&out, NULL, &trusted_a, 1, ops(state), NULL),
		FL_EINVAL);
	assert_int_equal(
		fl_manifest_verify(&out, &env, NULL, 1, ops(state), NULL),
		FL_EINVAL);
	hash_only.p256_verify = NULL;
	assert_int_equal(
		fl_manifest_verify(&out, &env, &trusted_a, 1, &hash_only, NULL),
		FL_EINVAL);
	/* JSON-level envelope errors are in test_proto.c; one here too */
	assert_int_equal(fl_manifest_env_decode(&bad, "{\"v\":1}", 7, NULL),
			 FL_EINVAL);
}

/* Bodies with a valid signature that must still be refused. */
static void test_manifest__signed_but_bad_body_fails(void **state)
{
	static const struct {
		const char *body;
		int err;
	} cases[] = {
		{"not json", FL_EINVAL},
		{"[]", FL_EINVAL},
		{"{\"v\":3,\"anything\":1}", FL_ENOTSUP},
		{"{\"v\":1}", FL_EINVAL},
	/* one good body, then one rule broken at a time */
#define B(extra)                                                               \
	"{\"v\":1,\"component\":\"fw\",\"version\":\"1.0.0\",\"hardware\":"    \
	"[\"m\"],\"length\":10,\"sha256\":\"000102030405060708090a0b0c0d0e0f"  \
	"101112131415161718191a1b1c1d1e1f\",\"url\":\"http://h/x\","           \
	"\"seq\":5,\"issued\":100,\"expires\":200" extra "}"
		{B(""), 0},
		{B(",\"rollback\":true,\"from\":\">=0.9.0 <1.0.0\""), 0},
		{B(",\"extra\":1"), FL_EINVAL},
		{B(",\"seq\":6"), FL_EINVAL},
		{B(",\"rollback\":1"), FL_EINVAL},
		{B(",\"from\":\"~1.0\""), FL_EINVAL},
		{B("} "), FL_EINVAL},
		{"{\"v\":1,\"component\":\"fw\",\"version\":\"1.0\","
		 "\"hardware\":"
		 "[\"m\"],\"length\":10,\"sha256\":\"00\",\"url\":\"http://h/"
		 "x\","
		 "\"seq\":5,\"issued\":100,\"expires\":200}",
		 FL_EINVAL},
	};
	static struct fl_manifest_env env;
	struct fl_manifest out;
	struct fl_proto_diag d;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sign_raw(&env, cases[i].body, strlen(cases[i].body), key_a,
			 &trusted_a);
		d.msg[0] = '\0';
		if (fl_manifest_verify(&out, &env, &trusted_a, 1, ops(state),
				       &d) != cases[i].err)
			fail_msg("case %zu: %s (%s)", i, cases[i].body, d.msg);
		if (cases[i].err)
			assert_int_equal(out.v, 0);
	}
}

/* Each field rule, through the body validator the signer and device share. */
static void test_manifest__field_rules(void **state)
{
	struct fl_manifest m;
	struct fl_proto_diag d;

#define BREAKS(stmt, field)                                                    \
	do {                                                                   \
		sample(&m);                                                    \
		stmt;                                                          \
		d.msg[0] = '\0';                                               \
		assert_int_equal(fl_manifest_validate(&m, &d), FL_EINVAL);     \
		assert_non_null(strstr(d.msg, field));                         \
	} while (0)

	sample(&m);
	assert_int_equal(fl_manifest_validate(&m, NULL), 0);
	BREAKS(m.v = 3, "v");
	BREAKS(m.v = 2, "enc"); /* format 2 is the encrypted image */
	BREAKS(m.component[0] = '\0', "component");
	BREAKS(strcpy(m.component, "fw/x"), "component");
	BREAKS(strcpy(m.version, "1.5"), "version");
	BREAKS(strcpy(m.version, "01.5.0"), "version");
	BREAKS(m.n_hardware = 0, "hardware");
	BREAKS(m.n_hardware = FL_MANIFEST_HW_MAX + 1, "hardware");
	BREAKS(strcpy(m.hardware[1], m.hardware[0]), "hardware");
	BREAKS(strcpy(m.hardware[1], "a b"), "hardware");
	BREAKS(m.length = 0, "length");
	BREAKS(strcpy(m.url, "fleetd.local/fw.bin"), "url");
	BREAKS(strcpy(m.url, "http://"), "url");
	BREAKS(strcpy(m.url, "http://a b"), "url");
	BREAKS(memset(m.url, 'u', sizeof(m.url)), "url");
	BREAKS(m.seq = 0, "seq");
	BREAKS(m.seq = FL_PROTO_UINT_MAX + 1, "seq");
	BREAKS(m.expires = m.issued, "expires");
	BREAKS(m.expires = FL_PROTO_UINT_MAX + 1, "expires");
	BREAKS(strcpy(m.from, ">=x"), "from");

	/* the limits themselves are accepted */
	sample(&m);
	m.length = UINT32_MAX;
	m.seq = FL_PROTO_UINT_MAX;
	m.expires = FL_PROTO_UINT_MAX;
	m.n_hardware = FL_MANIFEST_HW_MAX;
	for (unsigned i = 0; i < FL_MANIFEST_HW_MAX; i++) {
		memset(m.hardware[i], 'h', FL_PROTO_NAME_MAX - 1);
		m.hardware[i][FL_PROTO_NAME_MAX - 1] = '\0';
		m.hardware[i][1] = (char)('a' + i);
	}
	memset(m.url, 'u', FL_MANIFEST_URL_MAX - 1);
	memcpy(m.url, "https://", 8);
	m.url[FL_MANIFEST_URL_MAX - 1] = '\0';
	strcpy(m.from, ">=1.0.0-aaaaaaaaaaaaaaaaaaaaaaa "
		       "<2.0.0-bbbbbbbbbbbbbbbbbbbbbbbb");
	strcpy(m.version, "1.2.3-aaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(fl_manifest_validate(&m, NULL), 0);
	{
		static struct fl_manifest_env env;
		struct fl_manifest out;

		assert_int_equal(fl_manifest_seal(&env, &m, trusted_a.kid,
						  &fl_crypto_openssl,
						  sign_digest, key_a),
				 0);
		assert_true(env.body_len <= FL_MANIFEST_BODY_MAX);
		assert_int_equal(fl_manifest_verify(&out, &env, &trusted_a, 1,
						    ops(state), NULL),
				 0);
		assert_memory_equal(&m, &out, sizeof(m));
	}
}

static void test_manifest__size_limits(void **state)
{
	static char body[FL_MANIFEST_BODY_MAX + 2];
	static struct fl_manifest_env env;
	struct fl_manifest m, out;
	uint8_t small[64];
	size_t n;

	/* 897 bytes are refused before parsing */
	memset(body, ' ', sizeof(body));
	memcpy(body, "{\"v\":1}", 7);
	assert_int_equal(fl_manifest_body_decode_unverified(
				 &out, (const uint8_t *)body,
				 FL_MANIFEST_BODY_MAX + 1, NULL),
			 FL_ETOOBIG);
	/* a 896-byte body is read (and refused for its content only) */
	sign_raw(&env, body, FL_MANIFEST_BODY_MAX, key_a, &trusted_a);
	assert_int_equal(
		fl_manifest_verify(&out, &env, &trusted_a, 1, ops(state), NULL),
		FL_EINVAL);
	/* output buffers */
	sample(&m);
	assert_int_equal(fl_manifest_body_encode(small, sizeof(small), &n, &m),
			 FL_ETOOBIG);
	assert_int_equal(fl_manifest_seal(&env, &m, trusted_a.kid,
					  &fl_crypto_openssl, failing_sign,
					  NULL),
			 FL_EIO);
	assert_int_equal(env.body_len, 0);
	m.seq = 0;
	assert_int_equal(fl_manifest_seal(&env, &m, trusted_a.kid,
					  &fl_crypto_openssl, sign_digest,
					  key_a),
			 FL_EINVAL);
}

/* ---- device-side checks ------------------------------------------------- */

static void test_manifest__check_rules(void **state)
{
	struct fl_manifest m;
	struct fl_manifest_facts f;
	int why;

#define FACTS()                                                                \
	do {                                                                   \
		sample(&m);                                                    \
		f.model = "acme-gw-3";                                         \
		f.component = "firmware";                                      \
		f.current_version = "1.4.2";                                   \
		f.now = 1748740000;                                            \
		f.floor = 41;                                                  \
	} while (0)
#define EXPECT(want)                                                           \
	do {                                                                   \
		why = -1;                                                      \
		assert_int_equal(fl_manifest_check(&m, &f, &why),              \
				 (want) ? FL_ESTATE : 0);                      \
		assert_int_equal(why, (want));                                 \
	} while (0)

	FACTS();
	EXPECT(FL_RESULT_NONE);
	/* expiry, only with a trusted clock */
	FACTS();
	f.now = m.expires;
	EXPECT(FL_RESULT_EXPIRED);
	f.now = 0;
	EXPECT(FL_RESULT_NONE);
	/* anti-rollback: equal is a reinstall, lower refused */
	FACTS();
	f.floor = 42;
	EXPECT(FL_RESULT_NONE);
	f.floor = 43;
	EXPECT(FL_RESULT_ANTI_ROLLBACK);
	/* a rollback manifest must be strictly above the floor */
	FACTS();
	m.is_rollback = true;
	strcpy(m.version, "1.3.0");
	f.floor = 42;
	EXPECT(FL_RESULT_ANTI_ROLLBACK);
	f.floor = 41;
	EXPECT(FL_RESULT_NONE);
	/* downgrade without the flag */
	FACTS();
	strcpy(m.version, "1.4.1");
	EXPECT(FL_RESULT_DOWNGRADE);
	strcpy(m.version, "1.4.2");
	EXPECT(FL_RESULT_NONE);
	strcpy(m.version, "1.4.2-rc.1");
	EXPECT(FL_RESULT_DOWNGRADE);
	f.current_version = NULL; /* unknown: not compared */
	EXPECT(FL_RESULT_NONE);
	/* model, component */
	FACTS();
	f.model = "acme-gw-1";
	EXPECT(FL_RESULT_WRONG_MODEL);
	f.model = "ACME-GW-2";
	EXPECT(FL_RESULT_WRONG_MODEL);
	FACTS();
	f.component = "modem";
	EXPECT(FL_RESULT_NOT_APPLICABLE);
	f.component = NULL;
	EXPECT(FL_RESULT_NONE);
	/* from */
	FACTS();
	strcpy(m.from, ">=1.4.0 <1.5.0");
	EXPECT(FL_RESULT_NONE);
	f.current_version = "1.3.9";
	EXPECT(FL_RESULT_NOT_APPLICABLE);
	f.current_version = "";
	EXPECT(FL_RESULT_NOT_APPLICABLE);
	/* order: expiry before anti-rollback before model */
	FACTS();
	f.now = m.expires + 1;
	f.floor = 100;
	f.model = "other";
	EXPECT(FL_RESULT_EXPIRED);
	f.now = 0;
	EXPECT(FL_RESULT_ANTI_ROLLBACK);
	assert_int_equal(fl_manifest_check(&m, NULL, &why), FL_EINVAL);
}

/* ---- keys ---------------------------------------------------------------- */

static void test_manifest__key_text(void **state)
{
	char hex[2 * FL_MANIFEST_PUB_BYTES + 8];
	struct fl_manifest_key k;

	assert_int_equal(fl_hex_encode(hex, sizeof(hex), trusted_a.pub,
				       sizeof(trusted_a.pub)),
			 0);
	assert_int_equal(
		fl_manifest_key_parse(&k, ops(state), hex, strlen(hex)), 0);
	assert_memory_equal(&k, &trusted_a, sizeof(k));
	memmove(hex + 2, hex, strlen(hex) + 1);
	memcpy(hex, " \t", 2);
	strcat(hex, "\r\n");
	assert_int_equal(
		fl_manifest_key_parse(&k, ops(state), hex, strlen(hex)), 0);
	assert_memory_equal(&k, &trusted_a, sizeof(k));
	assert_int_equal(fl_manifest_key_parse(&k, ops(state), hex + 2, 129),
			 FL_EINVAL);
	hex[2] = '0';
	hex[3] = '2'; /* compressed form */
	assert_int_equal(
		fl_manifest_key_parse(&k, ops(state), hex, strlen(hex)),
		FL_EINVAL);
	hex[3] = 'x';
	assert_int_equal(
		fl_manifest_key_parse(&k, ops(state), hex, strlen(hex)),
		FL_EINVAL);
}

/* ---- the golden vector of docs/protocol.md ------------------------------- */

static const char DOC_PUB[] =
	"0460f6dd9e262400fb96173633d14fc508f33a8d10ac4d93bd929749c9d61780aa"
	"606c7ac8a60f13b5aaf41af82fa6c7dfbbf11519e1348cc2486cbae0d3952147\n";
static const char DOC_MANIFEST[] =
	"{\"v\":1,\"kid\":\"9df78671417208b1\",\"body\":"
	"\"eyJ2IjoxLCJjb21wb25lbnQiOiJmaXJtd2FyZSIsInZlcnNpb24iOiIxLjUuMCIsImh"
	"hcmR3YXJlIjpbImFjbWUtZ3ctMiJdLCJsZW5ndGgiOjY1NTM2LCJzaGEyNTYiOiIxNTZj"
	"Mzg0NDIwODljMTMyM2QzZTNiYTU0OWE2YWMyNDM0MWM0N2U4YjYzNjdiZWM0NzQwYzliO"
	"GM4NjU4MjZlIiwidXJsIjoiaHR0cDovL2ZsZWV0ZC5sb2NhbDo4MDgwL2FydGlmYWN0cy"
	"9maXJtd2FyZS0xLjUuMC5iaW4iLCJzZXEiOjQyLCJpc3N1ZWQiOjE3NDg3MzYwMDAsImV"
	"4cGlyZXMiOjIwNjQyNjg4MDAsInJvbGxiYWNrIjpmYWxzZX0=\",\"sig\":"
	"\"dd7kjXJnoXeZuQxCyZpZJLEx4smmvd29L0hL/YtNtu/RRrUisO8CPsp+meikrtuJu92"
	"TDtbv1d6T2p5xKb6zMg==\"}";

static void test_manifest__golden_vector_from_the_docs(void **state)
{
	static struct fl_manifest_env env;
	struct fl_manifest_key k;
	struct fl_manifest m;
	char kid[17];

	assert_int_equal(
		fl_manifest_key_parse(&k, ops(state), DOC_PUB, strlen(DOC_PUB)),
		0);
	assert_int_equal(fl_hex_encode(kid, sizeof(kid), k.kid, sizeof(k.kid)),
			 0);
	assert_string_equal(kid, "9df78671417208b1");
	assert_int_equal(fl_manifest_env_decode(&env, DOC_MANIFEST,
						strlen(DOC_MANIFEST), NULL),
			 0);
	assert_int_equal(fl_manifest_verify(&m, &env, &k, 1, ops(state), NULL),
			 0);
	assert_string_equal(m.component, "firmware");
	assert_string_equal(m.version, "1.5.0");
	assert_int_equal(m.n_hardware, 1);
	assert_string_equal(m.hardware[0], "acme-gw-2");
	assert_int_equal(m.length, 65536);
	assert_int_equal(m.sha256[0], 0x15);
	assert_int_equal(m.sha256[31], 0x6e);
	assert_string_equal(
		m.url, "http://fleetd.local:8080/artifacts/firmware-1.5.0.bin");
	assert_int_equal(m.seq, 42);
	assert_int_equal(m.issued, 1748736000);
	assert_int_equal(m.expires, 2064268800);
	assert_false(m.is_rollback);
	env.sig[10] ^= 1;
	assert_int_equal(fl_manifest_verify(&m, &env, &k, 1, ops(state), NULL),
			 FL_EVERIFY);
}

/* ---- allocation failures while sealing ---------------------------------- */

static long countdown = -1;

static void *failing_malloc(size_t n)
{
	if (countdown == 0)
		return NULL;
	if (countdown > 0)
		countdown--;
	return malloc(n);
}

static void test_manifest__seal_reports_allocation_failures(void **state)
{
	static struct fl_manifest_env env;
	cJSON_Hooks hooks = {failing_malloc, free};
	struct fl_manifest m;
	int err;
	long i;

	sample(&m);
	cJSON_InitHooks(&hooks);
	for (i = 0;; i++) {
		countdown = i;
		err = fl_manifest_seal(&env, &m, trusted_a.kid,
				       &fl_crypto_openssl, sign_digest, key_a);
		if (err == 0)
			break;
		assert_int_equal(err, FL_ENOMEM);
		assert_int_equal(env.body_len, 0);
	}
	countdown = -1;
	cJSON_InitHooks(NULL);
	assert_true(i > 5);
}

/* ---- envelope 2 --------------------------------------------------------- */

/* Certifies key_b's point with key_a as the root. */
static void cert_b_by_a(uint8_t out[FL_CERT_BYTES], uint16_t gen,
			uint16_t floor, uint8_t roles)
{
	struct fl_manifest_cert c;

	memset(&c, 0, sizeof(c));
	c.roles = roles;
	c.generation = gen;
	c.floor = floor;
	memcpy(c.root_kid, trusted_a.kid, FL_MANIFEST_KID_BYTES);
	c.not_before = 1748000000;
	c.not_after = 1800000000;
	memcpy(c.pub, trusted_b.pub, FL_MANIFEST_PUB_BYTES);
	assert_int_equal(fl_manifest_certify(out, &c, &fl_crypto_openssl,
					     sign_digest, key_a),
			 0);
	assert_memory_equal(out + FL_CERT_TBS_BYTES, c.sig, 64);
}

static void test_manifest__envelope_2_round_trip_and_rules(void **state)
{
	static struct fl_manifest_env env, back;
	static char text[FL_PROTO_MSG_MAX + 1];
	uint8_t cert[FL_CERT_BYTES];
	struct fl_manifest_cert dec;
	struct fl_manifest_trust t;
	struct fl_manifest_signer who;
	struct fl_manifest m, out;
	struct fl_proto_diag d;
	size_t n;
	char *p;

	cert_b_by_a(cert, 7, 3, FL_CERT_ROLE_RELEASE);
	assert_int_equal(fl_manifest_cert_decode(&dec, cert), 0);
	assert_int_equal(dec.generation, 7);
	assert_int_equal(dec.floor, 3);
	sample(&m);
	assert_int_equal(fl_manifest_seal_certified(&env, &m, cert,
						    &fl_crypto_openssl,
						    sign_digest, key_b),
			 0);
	assert_int_equal(env.v, FL_MANIFEST_ENV_CERTIFIED);
	assert_memory_equal(env.kid, trusted_b.kid, FL_MANIFEST_KID_BYTES);
	/* Sealing with a key the certificate does not name fails. */
	assert_int_equal(fl_manifest_seal_certified(&back, &m, cert,
						    &fl_crypto_openssl,
						    sign_digest, key_a),
			 FL_EVERIFY);
	assert_int_equal(fl_manifest_env_encode(text, sizeof(text), &n, &env),
			 0);
	assert_non_null(strstr(text, "\"cert\":\""));
	assert_int_equal(fl_manifest_env_decode(&back, text, n, NULL), 0);
	assert_memory_equal(&env, &back, sizeof(env));
	/* Verified through the root with each port. */
	memset(&t, 0, sizeof(t));
	t.roots = &trusted_a;
	t.n_roots = 1;
	t.key_floor = 7;
	t.now = 1748736000;
	assert_int_equal(fl_manifest_verify_trusted(&out, &who, &back, &t,
						    ops(state), NULL),
			 0);
	assert_int_equal(who.generation, 7);
	assert_int_equal(who.floor, 3);
	assert_int_equal(out.seq, 42);
	t.key_floor = 8;
	assert_int_equal(fl_manifest_verify_trusted(&out, &who, &back, &t,
						    ops(state), NULL),
			 FL_EROLLBACK);
	assert_string_equal(who.reason, "revoked_key");
	/* Trusting the signing key directly is not enough. */
	assert_int_equal(fl_manifest_verify(&out, &back, &trusted_b, 1,
					    ops(state), NULL),
			 FL_ENOENT);

	/* cert: missing, short, in an envelope 1. */
	p = strstr(text, ",\"cert\"");
	assert_non_null(p);
	{
		static char t2[sizeof(text)];
		size_t skip = strlen(",\"cert\":\"\"") + 212;

		memcpy(t2, text, (size_t)(p - text));
		strcpy(t2 + (p - text), p + skip);
		d.msg[0] = '\0';
		assert_int_equal(
			fl_manifest_env_decode(&back, t2, strlen(t2), &d),
			FL_EINVAL);
		assert_non_null(strstr(d.msg, "cert"));
		memcpy(t2, text, n + 1);
		t2[(p - text) + 9] = '!';
		assert_int_equal(fl_manifest_env_decode(&back, t2, n, NULL),
				 FL_EINVAL);
		memcpy(t2, text, n + 1);
		t2[5] = '1'; /* "v":1 with a cert */
		assert_int_equal(fl_manifest_env_decode(&back, t2, n, NULL),
				 FL_EINVAL);
	}
	/* The body bound of envelope 2: 800 bytes. */
	env.body_len = FL_MANIFEST_BODY2_MAX + 1;
	assert_int_equal(fl_manifest_env_encode(text, sizeof(text), &n, &env),
			 FL_EINVAL);
	/* A certificate that breaks its rules is not made. */
	dec.floor = 9; /* above its generation */
	assert_int_equal(fl_manifest_certify(cert, &dec, &fl_crypto_openssl,
					     sign_digest, key_a),
			 FL_EINVAL);
	cert[0] = 2;
	assert_int_equal(fl_manifest_cert_decode(&dec, cert), FL_EINVAL);
}

/* The worst command (docs/protocol.md) with an envelope 2 at its 800-byte
 * body still fits FL_PROTO_MSG_MAX. */
static void test_manifest__envelope_2_worst_command_fits(void **state)
{
	static struct fl_cmd c, back;
	static char text[FL_PROTO_MSG_MAX + 1];
	size_t n;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.type = FL_CMD_ROLLBACK;
	c.job = UINT32_MAX;
	c.issued = FL_PROTO_UINT_MAX - 1;
	c.expires = FL_PROTO_UINT_MAX;
	c.manifest.v = FL_MANIFEST_ENV_CERTIFIED;
	memset(c.manifest.kid, 0xa5, sizeof(c.manifest.kid));
	c.manifest.body_len = FL_MANIFEST_BODY2_MAX;
	for (size_t i = 0; i < FL_MANIFEST_BODY2_MAX; i++)
		c.manifest.body[i] = (uint8_t)(i * 7 + 1);
	memset(c.manifest.sig, 0xfe, sizeof(c.manifest.sig));
	memset(c.manifest.cert, 0xcd, sizeof(c.manifest.cert));
	c.activate = FL_ACTIVATE_WINDOW;
	c.window_start_min = 23 * 60 + 59;
	c.window_end_min = 0;
	c.health_window_s = UINT32_MAX;
	c.n_limits = FL_PROTO_LIMITS_MAX;
	for (unsigned i = 0; i < c.n_limits; i++) {
		struct fl_health_limit *l = &c.limits[i];

		memset(l->metric, 'm', sizeof(l->metric) - 1);
		l->metric[0] = (char)('a' + i);
		l->has_min = l->has_max = true;
		l->min = -1.23456789012345e-300;
		l->max = 1.23456789012345e+300;
	}
	assert_int_equal(fl_proto_encode_cmd(text, sizeof(text), &n, &c), 0);
	print_message("worst command with an envelope 2: %zu bytes\n", n);
	assert_true(n <= FL_PROTO_MSG_MAX);
	assert_int_equal(fl_proto_decode_cmd(&back, text, n, NULL), 0);
	assert_memory_equal(&c, &back, sizeof(c));
}

int main(void)
{
	static struct port ports[] = {{&fl_crypto_openssl},
				      {&fl_crypto_mbedtls}};
	int failed = 0;

	for (size_t p = 0; p < sizeof(ports) / sizeof(ports[0]); p++) {
		const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_prestate(fn, &ports[p])
			T(test_manifest__sealed_manifest_verifies),
			T(test_manifest__tampered_body_fails),
			T(test_manifest__tampered_signature_fails),
			T(test_manifest__wrong_or_unknown_key_fails),
			T(test_manifest__malformed_envelope_fails),
			T(test_manifest__signed_but_bad_body_fails),
			T(test_manifest__field_rules),
			T(test_manifest__size_limits),
			T(test_manifest__check_rules),
			T(test_manifest__key_text),
			T(test_manifest__golden_vector_from_the_docs),
			T(test_manifest__seal_reports_allocation_failures),
			T(test_manifest__envelope_2_round_trip_and_rules),
			T(test_manifest__envelope_2_worst_command_fits),
		};

		printf("[ port %s ]\n", ports[p].ops->name);
		failed += cmocka_run_group_tests_name(
			ports[p].ops->name, tests, group_setup, group_teardown);
	}
	return failed;
}
