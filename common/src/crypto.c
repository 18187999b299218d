/*
 * crypto.c -- conveniences over the crypto port (portable).
 */
#include "fl/crypto.h"

int fl_sha256(const struct fl_crypto_ops *c, const void *data, size_t len,
	      uint8_t out[FL_SHA256_BYTES])
{
	struct fl_hash_ctx ctx;
	int rc;

	rc = c->sha256_init(&ctx);
	if (rc == 0)
		rc = c->sha256_update(&ctx, data, len);
	if (rc == 0)
		rc = c->sha256_final(&ctx, out);
	return rc;
}
