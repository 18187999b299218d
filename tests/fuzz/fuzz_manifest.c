/*
 * fuzz_manifest.c -- libFuzzer target for the signed manifest: the whole
 * input goes through every manifest entry point a hostile peer can reach.
 *
 *   1. as an envelope (fl_manifest_env_decode), then fl_manifest_verify
 *      against the key of docs/protocol.md through the OpenSSL and the
 *      Mbed TLS port, which must agree and may only say "bad signature"
 *      or "unknown key" (a fuzzer cannot sign);
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

static void as_envelope(const char *text, size_t len)
{
	static struct fl_manifest_env env;
	static struct fl_manifest_key key;
	struct fl_manifest m1, m2;
	int e1, e2;

	if (fl_manifest_env_decode(&env, text, len, NULL) != 0)
		return;
	check(env.v == FL_MANIFEST_ENV_VERSION && env.body_len >= 1 &&
	      env.body_len <= FL_MANIFEST_BODY_MAX);
	if (key.pub[0] == 0)
		check(fl_manifest_key_parse(&key, &fl_crypto_openssl, DOC_PUB,
					    strlen(DOC_PUB)) == 0);
	e1 = fl_manifest_verify(&m1, &env, &key, 1, &fl_crypto_openssl, NULL);
	e2 = fl_manifest_verify(&m2, &env, &key, 1, &fl_crypto_mbedtls, NULL);
	check(e1 == e2);
	/* A valid signature can only come from the seeds (the doc vector). */
	check(e1 == 0 || e1 == FL_EVERIFY || e1 == FL_ENOENT);
	if (e1 == 0)
		check(memcmp(&m1, &m2, sizeof(m1)) == 0);
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
	if (fl_manifest_key_parse(&key, &fl_crypto_openssl, (const char *)data,
				  size) == 0)
		check(key.pub[0] == 0x04);
	return 0;
}

#ifdef FL_FUZZ_REPLAY
#include "fuzz_replay.h"
#endif
