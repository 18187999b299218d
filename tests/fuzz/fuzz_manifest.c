/*
 * fuzz_manifest.c -- libFuzzer target for the signed manifest: the whole
 * input goes through every manifest entry point a hostile peer can reach.
 *
 *   1. as an envelope (fl_manifest_env_decode, both formats), then
 *      fl_manifest_verify_trusted with the key of docs/protocol.md
 *      trusted directly and the root of tests/vectors/manifest trusted
 *      as a root, through the OpenSSL and the Mbed TLS port, which must
 *      agree (result, reason and body); a fuzzer cannot sign, so only the
 *      seeds may verify, and every refusal is one of the list; what
 *      decodes must encode back to the same envelope;
 *   4. as a key certificate (fl_manifest_cert_decode): what decodes has
 *      its fields within their rules;
 *   2. as a body (fl_manifest_body_decode_unverified: what a device parses
 *      once the signature verified): what decodes must encode back to a
 *      body that decodes to the same struct, and fl_manifest_check must
 *      give an answer from its list;
 *   3. as a public key in text form (fl_manifest_key_parse).
 *
 * Built with FL_FUZZ_REPLAY, the file is a plain program that replays the
 * corpus (tests/fuzz/corpus/manifest) as a ctest test.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fl/crypto_mbedtls.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char DOC_PUB[] =
	"0460f6dd9e262400fb96173633d14fc508f33a8d10ac4d93bd929749c9d61780aa"
	"606c7ac8a60f13b5aaf41af82fa6c7dfbbf11519e1348cc2486cbae0d3952147";

static void check(int ok)
{
	if (!ok)
		abort();
}

/* The root of tests/vectors/manifest (its seeds verify). */
static const char VEC_ROOT[] =
	"040b83d0bd5e1ae7e9ac2d9e9f69317aecb22e0f39a97e5acae7444c321fcf1fd1"
	"24cb520a793f00bf2fd7209083497dfd6d0d08118614115be876cdf2bd09de74";

static void as_envelope(const char *text, size_t len)
{
	static struct fl_manifest_env env, back;
	static struct fl_manifest_key key, root;
	static char out[FL_PROTO_MSG_MAX + 1];
	struct fl_manifest_trust t;
	struct fl_manifest_signer w1, w2;
	struct fl_manifest m1, m2;
	size_t n;
	int e1, e2;

	if (fl_manifest_env_decode(&env, text, len, NULL) != 0)
		return;
	check((env.v == FL_MANIFEST_ENV_VERSION && env.body_len >= 1 &&
	       env.body_len <= FL_MANIFEST_BODY_MAX) ||
	      (env.v == FL_MANIFEST_ENV_CERTIFIED && env.body_len >= 1 &&
	       env.body_len <= FL_MANIFEST_BODY2_MAX));
	check(fl_manifest_env_encode(out, sizeof(out), &n, &env) == 0);
	check(fl_manifest_env_decode(&back, out, n, NULL) == 0);
	check(memcmp(&env, &back, sizeof(env)) == 0);
	if (key.pub[0] == 0) {
		check(fl_manifest_key_parse(&key, &fl_crypto_openssl, DOC_PUB,
					    strlen(DOC_PUB)) == 0);
		check(fl_manifest_key_parse(&root, &fl_crypto_openssl, VEC_ROOT,
					    strlen(VEC_ROOT)) == 0);
	}
	memset(&t, 0, sizeof(t));
	t.keys = &key;
	t.n_keys = 1;
	t.roots = &root;
	t.n_roots = 1;
	t.key_floor = 1;
	t.now = 1748736000;
	e1 = fl_manifest_verify_trusted(&m1, &w1, &env, &t, &fl_crypto_openssl,
					NULL);
	e2 = fl_manifest_verify_trusted(&m2, &w2, &env, &t, &fl_crypto_mbedtls,
					NULL);
	check(e1 == e2 && strcmp(w1.reason, w2.reason) == 0);
	/* A valid signature can only come from the seeds. */
	check(e1 == 0 || e1 == FL_EVERIFY || e1 == FL_ENOENT ||
	      e1 == FL_ESTATE || e1 == FL_EROLLBACK || e1 == FL_EINVAL ||
	      e1 == FL_ETOOBIG || e1 == FL_ENOTSUP);
	if (e1 == 0)
		check(memcmp(&m1, &m2, sizeof(m1)) == 0 && w1.reason[0] == 0);
	else
		check(m1.v == 0 && m2.v == 0);
}

static void as_cert(const uint8_t *data, size_t len)
{
	struct fl_manifest_cert c;

	if (len < FL_CERT_BYTES)
		return;
	if (fl_manifest_cert_decode(&c, data) != 0) {
		check(c.generation == 0 && c.roles == 0);
		return;
	}
	check(c.roles != 0 && c.generation >= c.floor && c.floor >= 1 &&
	      c.not_after > c.not_before && c.pub[0] == 0x04);
}

static void as_body(const uint8_t *data, size_t len)
{
	static const int answers[] = {
		FL_RESULT_NONE,		 FL_RESULT_EXPIRED,
		FL_RESULT_ANTI_ROLLBACK, FL_RESULT_DOWNGRADE,
		FL_RESULT_WRONG_MODEL,	 FL_RESULT_NOT_APPLICABLE,
	};
	static uint8_t body[FL_MANIFEST_BODY_MAX + 1];
	struct fl_manifest m, back;
	struct fl_manifest_facts f = {"acme-gw-2", "firmware", "1.4.2",
				      1748740000, 41};
	size_t n;
	int why = -1, err, found = 0;

	err = fl_manifest_body_decode_unverified(&m, data, len, NULL);
	if (err) {
		check(err == FL_EINVAL || err == FL_ETOOBIG ||
		      err == FL_ENOTSUP);
		check(m.v == 0);
		return;
	}
	check(fl_manifest_validate(&m, NULL) == 0);
	err = fl_manifest_body_encode(body, sizeof(body), &n, &m);
	check(err == 0 || err == FL_ETOOBIG);
	if (err == 0) {
		check(fl_manifest_body_decode_unverified(&back, body, n,
							 NULL) == 0);
		check(memcmp(&m, &back, sizeof(m)) == 0);
	}
	err = fl_manifest_check(&m, &f, &why);
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
		found |= why == answers[i];
	check(found && (err == 0) == (why == FL_RESULT_NONE));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_manifest_key key;

	as_envelope((const char *)data, size);
	as_body(data, size);
	as_cert(data, size);
	if (fl_manifest_key_parse(&key, &fl_crypto_openssl, (const char *)data,
				  size) == 0)
		check(key.pub[0] == 0x04);
	return 0;
}

#ifdef FL_FUZZ_REPLAY
#include "fuzz_replay.h"
#endif
