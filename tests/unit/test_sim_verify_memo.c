/*
 * test_sim_verify_memo.c -- fleet-sim's memoized signature check
 * (agent/sim/verify_memo.c): the same answers as OpenSSL's port for a
 * valid signature, a forged one and a wrong key, each given many times;
 * a repeat is answered from the table; a malformed key is an error, never
 * remembered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "sim.h"

/* test_crypto.c's vector: a key, SHA-256("fleet test image v1") and its
 * signature r || s. */
static const char HEX_PUB[] =
	"04"
	"13dccb1ec5dc6cec6358da612748c7c6ced4135627b3742fc8315ae06462fcd6"
	"3a431912150aefd64915252d4c5419a062e0878516c6b44983eb91e2046ba9aa";
static const char HEX_DIGEST[] =
	"140906c9a0ae477b4724516cab1afa1cbe96fbc815b5c751682aa569317750ac";
static const char HEX_SIG[] =
	"9daafd04f3d689d12c2a78adb13767ad1715861969cb33f521f529bbb0945faf"
	"bdeffc9e0daf59b3d54e3f7dfc8307e150f1684a98ae35e6b221e6b5f9ecdca7";

static void unhex(uint8_t *out, size_t n, const char *hex)
{
	assert_int_equal(strlen(hex), 2 * n);
	assert_int_equal(fl_hex_decode(out, n, hex, 2 * n), 0);
}

static void test_sim_verify_memo__same_answers_and_repeats_hit(void **state)
{
	const struct fl_crypto_ops *c = sim_crypto();
	struct sim_verify_stats s0, s1;
	uint8_t pub[65], digest[FL_SHA256_BYTES], sig[64], bad[64];
	uint8_t other[65];

	(void)state;
	unhex(pub, sizeof(pub), HEX_PUB);
	unhex(digest, sizeof(digest), HEX_DIGEST);
	unhex(sig, sizeof(sig), HEX_SIG);
	memcpy(bad, sig, sizeof(bad));
	bad[63] ^= 1;
	assert_non_null(c->sha256_init); /* the rest of the port is OpenSSL's */
	assert_ptr_not_equal(c->p256_verify, fl_crypto_openssl.p256_verify);
	sim_verify_stats(&s0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(c->p256_verify(pub, digest, sig), 0);
		assert_int_equal(c->p256_verify(pub, digest, bad), FL_EVERIFY);
	}
	sim_verify_stats(&s1);
	assert_int_equal(s1.misses - s0.misses, 2); /* once each */
	assert_int_equal(s1.hits - s0.hits, 198);
	/* a malformed key: the backend's error, not remembered */
	memset(other, 0, sizeof(other));
	assert_int_equal(c->p256_verify(other, digest, sig),
			 fl_crypto_openssl.p256_verify(other, digest, sig));
	assert_int_not_equal(c->p256_verify(other, digest, sig), 0);
	/* the good signature with another (valid) key: not the remembered
	 * answer */
	memcpy(other, pub, sizeof(other));
	other[64] ^= 1; /* off the curve: an error, whatever is remembered */
	assert_int_not_equal(c->p256_verify(other, digest, sig), 0);
	assert_int_equal(c->p256_verify(pub, digest, sig), 0);
	assert_int_equal(c->p256_verify(NULL, digest, sig), FL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_sim_verify_memo__same_answers_and_repeats_hit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
