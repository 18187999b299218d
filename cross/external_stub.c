/*
 * external_stub.c -- link-time stand-ins for the codec functions listed in
 * external.txt, for the freestanding link proof only: they refuse every
 * manifest. A firmware links the real ones (fl_proto with cJSON).
 */
#include "fl/err.h"
#include "fl/proto.h"

int fl_manifest_verify(struct fl_manifest *out,
		       const struct fl_manifest_env *env,
		       const struct fl_manifest_key *keys, unsigned n_keys,
		       const struct fl_crypto_ops *c,
		       struct fl_proto_diag *diag)
{
	(void)out;
	(void)env;
	(void)keys;
	(void)n_keys;
	(void)c;
	(void)diag;
	return FL_ENOTSUP;
}

int fl_manifest_check(const struct fl_manifest *m,
		      const struct fl_manifest_facts *f, int *why)
{
	(void)m;
	(void)f;
	(void)why;
	return FL_ENOTSUP;
}
