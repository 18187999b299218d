/*
 * verify_memo.c -- fleet-sim's crypto port: OpenSSL's, with ECDSA P-256
 * verification memoized for the whole process (sim.h).
 *
 * Method: a fleet-wide command carries the same signed manifest to every
 * device (one rollback manifest per image and model, one offer manifest
 * per rollout), so thousands of simulated devices would check the same
 * signature over the same digest with the same key, each on the one CPU
 * they share, where real devices each have their own. A verification is a
 * pure function of (key, digest, signature), so its answer is kept in a
 * small table: an entry holds the three inputs in full and is used only
 * when all 161 bytes match, so a different key, digest or signature is
 * always verified for real (a forged manifest still fails, on every
 * device). Only the two answers a real check gives are kept: valid (0)
 * and invalid (FL_EVERIFY); an error of the backend is not. A colliding
 * entry is replaced. Fixed size, no allocation; one thread (fleet-sim's
 * loop; worker processes each have their own table).
 */
#include <stdbool.h>
#include <string.h>

#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "sim.h"

#define MEMO_SLOTS 64 /* a power of two */

struct memo {
	bool is_used;
	int rc;
	uint8_t pub[65];
	uint8_t digest[FL_SHA256_BYTES];
	uint8_t sig[64];
};

static struct memo memo[MEMO_SLOTS];
static struct sim_verify_stats stats;

static unsigned slot_of(const uint8_t *digest, const uint8_t *sig)
{
	uint32_t h = 2166136261u;

	for (unsigned i = 0; i < FL_SHA256_BYTES; i++)
		h = (h ^ digest[i]) * 16777619u;
	for (unsigned i = 0; i < 64; i++)
		h = (h ^ sig[i]) * 16777619u;
	return h & (MEMO_SLOTS - 1);
}

static int memo_verify(const uint8_t pub[65],
		       const uint8_t digest[FL_SHA256_BYTES],
		       const uint8_t sig[64])
{
	struct memo *m;
	int rc;

	if (pub == NULL || digest == NULL || sig == NULL)
		return FL_EINVAL;
	m = &memo[slot_of(digest, sig)];
	if (m->is_used && memcmp(m->pub, pub, sizeof(m->pub)) == 0 &&
	    memcmp(m->digest, digest, sizeof(m->digest)) == 0 &&
	    memcmp(m->sig, sig, sizeof(m->sig)) == 0) {
		stats.hits++;
		return m->rc;
	}
	stats.misses++;
	rc = fl_crypto_openssl.p256_verify(pub, digest, sig);
	if (rc != 0 && rc != FL_EVERIFY)
		return rc;
	m->is_used = true;
	m->rc = rc;
	memcpy(m->pub, pub, sizeof(m->pub));
	memcpy(m->digest, digest, sizeof(m->digest));
	memcpy(m->sig, sig, sizeof(m->sig));
	return rc;
}

static struct fl_crypto_ops ops;

const struct fl_crypto_ops *sim_crypto(void)
{
	if (ops.version == 0) {
		ops = fl_crypto_openssl;
		ops.p256_verify = memo_verify;
	}
	return &ops;
}

void sim_verify_stats(struct sim_verify_stats *out)
{
	*out = stats;
}
