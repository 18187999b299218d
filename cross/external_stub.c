/*
 * external_stub.c -- link-time stand-ins for the codec (common/proto,
 * which needs cJSON and so a C library): the functions of external.txt,
 * which the portable archive calls, for the freestanding link proof; and
 * those agent_image.c calls as a firmware's MQTT adapter does, so that
 * bench/sizes.sh can measure the agent without the codec beside the
 * device's real link with it. They refuse everything. A firmware links
 * the real ones (fl_proto with cJSON).
 */
#include "fl/err.h"
#include "fl/proto.h"

int fl_manifest_verify_trusted(struct fl_manifest *out,
			       struct fl_manifest_signer *who,
			       const struct fl_manifest_env *env,
			       const struct fl_manifest_trust *trust,
			       const struct fl_crypto_ops *c,
			       struct fl_proto_diag *diag)
{
	(void)out;
	(void)env;
	(void)trust;
	(void)c;
	(void)diag;
	who->reason = "";
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

int fl_proto_check_str(const char *s, size_t size, int cs)
{
	(void)s;
	(void)size;
	(void)cs;
	return FL_EINVAL;
}

int fl_proto_decode_cmd(struct fl_cmd *out, const char *in, size_t len,
			struct fl_proto_diag *diag)
{
	(void)out;
	(void)in;
	(void)len;
	(void)diag;
	return FL_ENOTSUP;
}

int fl_proto_encode_status(char *out, size_t out_size, size_t *out_len,
			   const struct fl_status *m)
{
	(void)out;
	(void)out_size;
	(void)out_len;
	(void)m;
	return FL_ENOTSUP;
}

int fl_proto_encode_reported(char *out, size_t out_size, size_t *out_len,
			     const struct fl_reported *m)
{
	(void)out;
	(void)out_size;
	(void)out_len;
	(void)m;
	return FL_ENOTSUP;
}

int fl_proto_encode_health(char *out, size_t out_size, size_t *out_len,
			   const struct fl_health *m)
{
	(void)out;
	(void)out_size;
	(void)out_len;
	(void)m;
	return FL_ENOTSUP;
}

int fl_proto_encode_presence(char *out, size_t out_size, size_t *out_len,
			     const struct fl_presence *m)
{
	(void)out;
	(void)out_size;
	(void)out_len;
	(void)m;
	return FL_ENOTSUP;
}

int fl_topic_build(char *out, size_t out_size, const char *root, const char *id,
		   int kind)
{
	(void)out;
	(void)out_size;
	(void)root;
	(void)id;
	(void)kind;
	return FL_ENOTSUP;
}
