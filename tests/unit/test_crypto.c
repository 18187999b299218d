/*
 * test_crypto.c -- both crypto ports (OpenSSL, Mbed TLS) against the same
 * vectors, and fl_sha256() over each.
 *
 * Every test takes the port under test from its cmocka state; main() runs
 * the whole list once per port, so a vector added here checks both. SHA-256
 * vectors are the FIPS 180-2 examples. The P-256 key pair and signature were
 * generated once, offline, with the openssl command-line tool:
 *
 *   openssl ecparam -name prime256v1 -genkey -noout -out key.pem
 *   printf 'fleet test image v1' | openssl dgst -sha256 -binary > dig.bin
 *   openssl pkeyutl -sign -inkey key.pem -in dig.bin -out sig.der
 *   openssl ec -in key.pem -pubout -outform DER -conv_form uncompressed |
 *           tail -c 65 | xxd -p -c 65              (the public point)
 *   openssl asn1parse -inform DER -in sig.der      (r and s)
 *
 * Defined behaviour checked here: a malformed public key is FL_EINVAL; a
 * signature whose r or s is 0 or not below the group order n is simply a
 * wrong signature, FL_EVERIFY, like a flipped bit (the signature comes from
 * the network, the key from the caller's configuration).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "fl/crypto.h"
#include "fl/crypto_mbedtls.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"

#define MILLION 1000000u

struct port {
	const struct fl_crypto_ops *ops;
};

static const char HEX_EMPTY[] =
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char HEX_ABC[] =
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char MSG_448[] =
	"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char HEX_448[] =
	"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
static const char HEX_MILLION_A[] =
	"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

/* The test key pair's public point, 0x04 || X || Y. */
static const char HEX_PUB[] =
	"04"
	"13dccb1ec5dc6cec6358da612748c7c6ced4135627b3742fc8315ae06462fcd6"
	"3a431912150aefd64915252d4c5419a062e0878516c6b44983eb91e2046ba9aa";
/* SHA-256("fleet test image v1") and its signature r || s. */
static const char MSG_SIGNED[] = "fleet test image v1";
static const char HEX_DIGEST[] =
	"140906c9a0ae477b4724516cab1afa1cbe96fbc815b5c751682aa569317750ac";
static const char HEX_SIG[] =
	"9daafd04f3d689d12c2a78adb13767ad1715861969cb33f521f529bbb0945faf"
	"bdeffc9e0daf59b3d54e3f7dfc8307e150f1684a98ae35e6b221e6b5f9ecdca7";
/* n - s: the other valid signature for the same r (ECDSA malleability).
 * Both ports accept it; a firmware signature need not be canonical. */
static const char HEX_S_HIGH[] =
	"42100360f250a64d2ab1c082037cf81e6bf592630e69689e4197e40d027648aa";
/* p - Y: the negated point (X, -Y), a valid key that did not sign. */
static const char HEX_Y_NEG[] =
	"c5bce6eceaf5102ab6eadad2b3abe65f9d1f787be9394bb67c146e1dfb945655";
/* The P-256 group order n and field prime p. */
static const char HEX_N[] =
	"ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
static const char HEX_P[] =
	"ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";

static void unhex(uint8_t *out, size_t n, const char *hex)
{
	assert_int_equal(strlen(hex), 2 * n);
	for (size_t i = 0; i < n; i++) {
		char byte[3] = {hex[2 * i], hex[2 * i + 1], '\0'};

		out[i] = (uint8_t)strtoul(byte, NULL, 16);
	}
}

static const struct fl_crypto_ops *ops_of(void **state)
{
	return ((const struct port *)*state)->ops;
}

static void assert_digest(const uint8_t got[FL_SHA256_BYTES], const char *hex)
{
	uint8_t want[FL_SHA256_BYTES];

	unhex(want, sizeof(want), hex);
	assert_memory_equal(got, want, FL_SHA256_BYTES);
}

static void hash_with(const struct fl_crypto_ops *c, struct fl_hash_ctx *ctx,
		      const void *data, size_t len,
		      uint8_t out[FL_SHA256_BYTES])
{
	assert_int_equal(c->sha256_init(ctx), 0);
	assert_int_equal(c->sha256_update(ctx, data, len), 0);
	assert_int_equal(c->sha256_final(ctx, out), 0);
}

static void test_ops__table_is_complete(void **state)
{
	const struct fl_crypto_ops *c = ops_of(state);

	assert_int_equal(c->version, FL_CRYPTO_OPS_VERSION);
	assert_non_null(c->name);
	assert_non_null(c->sha256_init);
	assert_non_null(c->sha256_update);
	assert_non_null(c->sha256_final);
	assert_non_null(c->p256_verify);
}

static void test_sha256__empty_message(void **state)
{
	struct fl_hash_ctx ctx;
	uint8_t out[FL_SHA256_BYTES];

	hash_with(ops_of(state), &ctx, "", 0, out);
	assert_digest(out, HEX_EMPTY);
	/* No update at all gives the same digest. */
	assert_int_equal(ops_of(state)->sha256_init(&ctx), 0);
	assert_int_equal(ops_of(state)->sha256_final(&ctx, out), 0);
	assert_digest(out, HEX_EMPTY);
}

static void test_sha256__abc(void **state)
{
	struct fl_hash_ctx ctx;
	uint8_t out[FL_SHA256_BYTES];

	hash_with(ops_of(state), &ctx, "abc", 3, out);
	assert_digest(out, HEX_ABC);
}

static void test_sha256__nist_448_bit_message(void **state)
{
	struct fl_hash_ctx ctx;
	uint8_t out[FL_SHA256_BYTES];

	assert_int_equal(strlen(MSG_448), 56);
	hash_with(ops_of(state), &ctx, MSG_448, strlen(MSG_448), out);
	assert_digest(out, HEX_448);
}

static void test_sha256__million_a_in_irregular_chunks(void **state)
{
	static const size_t chunks[] = {1, 3, 63, 64, 65, 1000, 0, 7, 129};
	const struct fl_crypto_ops *c = ops_of(state);
	struct fl_hash_ctx ctx;
	uint8_t buf[1000];
	uint8_t out[FL_SHA256_BYTES];
	size_t done = 0;
	size_t i = 0;

	memset(buf, 'a', sizeof(buf));
	assert_int_equal(c->sha256_init(&ctx), 0);
	while (done < MILLION) {
		size_t n = chunks[i++ % (sizeof(chunks) / sizeof(chunks[0]))];

		if (n > MILLION - done)
			n = MILLION - done;
		assert_int_equal(c->sha256_update(&ctx, buf, n), 0);
		done += n;
	}
	assert_int_equal(c->sha256_final(&ctx, out), 0);
	assert_digest(out, HEX_MILLION_A);
}

static void test_sha256__zero_length_update_changes_nothing(void **state)
{
	const struct fl_crypto_ops *c = ops_of(state);
	struct fl_hash_ctx ctx;
	uint8_t out[FL_SHA256_BYTES];

	assert_int_equal(c->sha256_init(&ctx), 0);
	assert_int_equal(c->sha256_update(&ctx, NULL, 0), 0);
	assert_int_equal(c->sha256_update(&ctx, "ab", 2), 0);
	assert_int_equal(c->sha256_update(&ctx, "", 0), 0);
	assert_int_equal(c->sha256_update(&ctx, "c", 1), 0);
	assert_int_equal(c->sha256_final(&ctx, out), 0);
	assert_digest(out, HEX_ABC);
}

static void test_sha256__context_reused_after_final(void **state)
{
	const struct fl_crypto_ops *c = ops_of(state);
	struct fl_hash_ctx ctx;
	uint8_t out[FL_SHA256_BYTES];

	/* Dirty the context first: init must not depend on its contents. */
	memset(&ctx, 0xa5, sizeof(ctx));
	hash_with(c, &ctx, MSG_448, strlen(MSG_448), out);
	assert_digest(out, HEX_448);
	hash_with(c, &ctx, "abc", 3, out);
	assert_digest(out, HEX_ABC);
	hash_with(c, &ctx, "", 0, out);
	assert_digest(out, HEX_EMPTY);
}

static void test_fl_sha256__one_shot(void **state)
{
	const struct fl_crypto_ops *c = ops_of(state);
	uint8_t out[FL_SHA256_BYTES];
	uint8_t *million;

	assert_int_equal(fl_sha256(c, "abc", 3, out), 0);
	assert_digest(out, HEX_ABC);
	assert_int_equal(fl_sha256(c, NULL, 0, out), 0);
	assert_digest(out, HEX_EMPTY);

	million = malloc(MILLION);
	assert_non_null(million);
	memset(million, 'a', MILLION);
	assert_int_equal(fl_sha256(c, million, MILLION, out), 0);
	free(million);
	assert_digest(out, HEX_MILLION_A);
}

/* The key, digest and signature of the one good vector. */
struct sig_case {
	uint8_t pub[65];
	uint8_t digest[FL_SHA256_BYTES];
	uint8_t sig[64];
};

static void load_case(struct sig_case *t)
{
	unhex(t->pub, sizeof(t->pub), HEX_PUB);
	unhex(t->digest, sizeof(t->digest), HEX_DIGEST);
	unhex(t->sig, sizeof(t->sig), HEX_SIG);
}

static int verify(void **state, const struct sig_case *t)
{
	return ops_of(state)->p256_verify(t->pub, t->digest, t->sig);
}

static void test_p256__valid_signature_verifies(void **state)
{
	struct sig_case t;
	uint8_t digest[FL_SHA256_BYTES];

	load_case(&t);
	/* The digest constant is the hash of the message, through the port. */
	assert_int_equal(fl_sha256(ops_of(state), MSG_SIGNED,
				   strlen(MSG_SIGNED), digest),
			 0);
	assert_memory_equal(digest, t.digest, sizeof(digest));
	assert_int_equal(verify(state, &t), 0);
	/* Verification keeps no state: a second call gives the same answer. */
	assert_int_equal(verify(state, &t), 0);
}

static void test_p256__high_s_twin_verifies(void **state)
{
	struct sig_case t;

	load_case(&t);
	unhex(t.sig + 32, 32, HEX_S_HIGH);
	assert_int_equal(verify(state, &t), 0);
}

static void test_p256__flipped_signature_bit_fails(void **state)
{
	static const size_t bytes[] = {0, 1, 15, 31, 32, 33, 47, 63};
	struct sig_case t;

	for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
		for (unsigned bit = 0; bit < 8; bit += 7) {
			load_case(&t);
			t.sig[bytes[i]] ^= (uint8_t)(1u << bit);
			assert_int_equal(verify(state, &t), FL_EVERIFY);
		}
	}
}

static void test_p256__wrong_digest_fails(void **state)
{
	static const char other[] = "fleet test image v2";
	struct sig_case t;

	load_case(&t);
	t.digest[FL_SHA256_BYTES - 1] ^= 1;
	assert_int_equal(verify(state, &t), FL_EVERIFY);

	load_case(&t);
	assert_int_equal(
		fl_sha256(ops_of(state), other, strlen(other), t.digest), 0);
	assert_int_equal(verify(state, &t), FL_EVERIFY);
}

static void test_p256__other_valid_key_fails(void **state)
{
	struct sig_case t;

	load_case(&t);
	unhex(t.pub + 33, 32, HEX_Y_NEG);
	assert_int_equal(verify(state, &t), FL_EVERIFY);
}

static void test_p256__invalid_public_key_is_einval(void **state)
{
	static const uint8_t prefixes[] = {0x00, 0x02, 0x03, 0x05, 0x06, 0xff};
	struct sig_case t;

	for (size_t i = 0; i < sizeof(prefixes); i++) {
		load_case(&t);
		t.pub[0] = prefixes[i];
		assert_int_equal(verify(state, &t), FL_EINVAL);
	}

	load_case(&t); /* off the curve: Y + 1 */
	t.pub[64] ^= 1;
	assert_int_equal(verify(state, &t), FL_EINVAL);

	load_case(&t); /* X not below the field prime */
	unhex(t.pub + 1, 32, HEX_P);
	assert_int_equal(verify(state, &t), FL_EINVAL);

	load_case(&t); /* Y not below the field prime */
	memset(t.pub + 33, 0xff, 32);
	assert_int_equal(verify(state, &t), FL_EINVAL);

	load_case(&t); /* (0, 0) */
	memset(t.pub + 1, 0, 64);
	assert_int_equal(verify(state, &t), FL_EINVAL);
}

static void test_p256__scalar_out_of_range_fails(void **state)
{
	struct sig_case t;

	for (int half = 0; half < 2; half++) {
		uint8_t *x;

		load_case(&t); /* 0 */
		x = t.sig + 32 * half;
		memset(x, 0, 32);
		assert_int_equal(verify(state, &t), FL_EVERIFY);

		load_case(&t); /* n */
		x = t.sig + 32 * half;
		unhex(x, 32, HEX_N);
		assert_int_equal(verify(state, &t), FL_EVERIFY);

		load_case(&t); /* n + 1 */
		x = t.sig + 32 * half;
		unhex(x, 32, HEX_N);
		x[31]++;
		assert_int_equal(verify(state, &t), FL_EVERIFY);

		load_case(&t); /* 2^256 - 1 */
		x = t.sig + 32 * half;
		memset(x, 0xff, 32);
		assert_int_equal(verify(state, &t), FL_EVERIFY);
	}
	load_case(&t); /* both zero */
	memset(t.sig, 0, sizeof(t.sig));
	assert_int_equal(verify(state, &t), FL_EVERIFY);
}

static void test_p256__null_argument_is_einval(void **state)
{
	const struct fl_crypto_ops *c = ops_of(state);
	struct sig_case t;

	load_case(&t);
	assert_int_equal(c->p256_verify(NULL, t.digest, t.sig), FL_EINVAL);
	assert_int_equal(c->p256_verify(t.pub, NULL, t.sig), FL_EINVAL);
	assert_int_equal(c->p256_verify(t.pub, t.digest, NULL), FL_EINVAL);
}

/*
 * OpenSSL only: hashing must not allocate. OpenSSL's allocator hooks take
 * no user pointer, hence the file-scope counter; they must be installed
 * before OpenSSL's first allocation, so main() does it first. (Mbed TLS's
 * hook needs MBEDTLS_PLATFORM_MEMORY, off in Debian's build; its SHA-256 is
 * plain code over the context and has no allocator to call.)
 */
static size_t openssl_allocs;

static void *count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	openssl_allocs++;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	openssl_allocs++;
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static void test_openssl__sha256_does_not_allocate(void **state)
{
	const struct fl_crypto_ops *c = &fl_crypto_openssl;
	struct fl_hash_ctx ctx;
	uint8_t buf[4096];
	uint8_t out[FL_SHA256_BYTES];
	size_t before = openssl_allocs;
	struct sig_case t;

	(void)state;
	memset(buf, 'a', sizeof(buf));
	for (int round = 0; round < 3; round++) {
		assert_int_equal(c->sha256_init(&ctx), 0);
		for (int i = 0; i < 64; i++)
			assert_int_equal(
				c->sha256_update(&ctx, buf, sizeof(buf) - 1),
				0);
		assert_int_equal(c->sha256_final(&ctx, out), 0);
	}
	assert_int_equal(openssl_allocs, before);

	/* The hook is live: verification does allocate. */
	load_case(&t);
	assert_int_equal(c->p256_verify(t.pub, t.digest, t.sig), 0);
	assert_true(openssl_allocs > before);
}

static void test_openssl__failure_leaves_error_queue_empty(void **state)
{
	struct sig_case t;

	(void)state;
	ERR_clear_error();
	load_case(&t);
	t.pub[64] ^= 1;
	assert_int_equal(fl_crypto_openssl.p256_verify(t.pub, t.digest, t.sig),
			 FL_EINVAL);
	load_case(&t);
	t.sig[5] ^= 1;
	assert_int_equal(fl_crypto_openssl.p256_verify(t.pub, t.digest, t.sig),
			 FL_EVERIFY);
	assert_int_equal(ERR_peek_error(), 0);
}

/* The daemon's warm-up is a known-answer check, true every time, and
 * leaves nothing in OpenSSL's error queue. */
static void test_openssl__warm_up_checks_a_known_answer(void **state)
{
	(void)state;
	ERR_clear_error();
	assert_int_equal(fl_crypto_openssl_warm_up(), 0);
	assert_int_equal(fl_crypto_openssl_warm_up(), 0);
	assert_int_equal(ERR_peek_error(), 0);
}

static int run_port(const char *group, struct port *p)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_ops__table_is_complete, p),
		cmocka_unit_test_prestate(test_sha256__empty_message, p),
		cmocka_unit_test_prestate(test_sha256__abc, p),
		cmocka_unit_test_prestate(test_sha256__nist_448_bit_message, p),
		cmocka_unit_test_prestate(
			test_sha256__million_a_in_irregular_chunks, p),
		cmocka_unit_test_prestate(
			test_sha256__zero_length_update_changes_nothing, p),
		cmocka_unit_test_prestate(
			test_sha256__context_reused_after_final, p),
		cmocka_unit_test_prestate(test_fl_sha256__one_shot, p),
		cmocka_unit_test_prestate(test_p256__valid_signature_verifies,
					  p),
		cmocka_unit_test_prestate(test_p256__high_s_twin_verifies, p),
		cmocka_unit_test_prestate(
			test_p256__flipped_signature_bit_fails, p),
		cmocka_unit_test_prestate(test_p256__wrong_digest_fails, p),
		cmocka_unit_test_prestate(test_p256__other_valid_key_fails, p),
		cmocka_unit_test_prestate(
			test_p256__invalid_public_key_is_einval, p),
		cmocka_unit_test_prestate(test_p256__scalar_out_of_range_fails,
					  p),
		cmocka_unit_test_prestate(test_p256__null_argument_is_einval,
					  p),
	};

	return cmocka_run_group_tests_name(group, tests, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest openssl_only[] = {
		cmocka_unit_test(test_openssl__sha256_does_not_allocate),
		cmocka_unit_test(
			test_openssl__failure_leaves_error_queue_empty),
		cmocka_unit_test(test_openssl__warm_up_checks_a_known_answer),
	};
	struct port openssl = {&fl_crypto_openssl};
	struct port mbedtls = {&fl_crypto_mbedtls};
	int failed = 0;

	if (CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free) !=
	    1)
		return 1;
	failed += run_port("crypto_openssl", &openssl);
	failed += run_port("crypto_mbedtls", &mbedtls);
	failed += cmocka_run_group_tests_name("crypto_openssl_only",
					      openssl_only, NULL, NULL);
	return failed != 0;
}
