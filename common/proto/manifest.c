/*
 * manifest.c -- the signed manifest: envelope codec, body codec, signature
 * verification before parsing, sealing (for signers) and the device-side
 * applicability checks. Format: docs/formats.md, "Signed manifest".
 *
 * Method: the envelope carries the body as base64 of its exact bytes. The
 * device decodes the envelope (three short strings and a number), hashes
 * the raw body bytes, verifies the ECDSA P-256 signature through the crypto
 * port, and only if that succeeds hands the body to the JSON parser. So a
 * forged body never reaches cJSON, and no canonical form of JSON is needed:
 * the signer signs the bytes it wrote, the device checks the bytes it got.
 * The body is parsed strictly (unknown fields refused): it is signed, so a
 * field this version does not know might be one it must not ignore; a new
 * field comes with a new body "v".
 */
#include <string.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "fl/semver.h"
#include "proto_internal.h"

#define CHECK(expr)                                                            \
	do {                                                                   \
		err = (expr);                                                  \
		if (err)                                                       \
			goto out;                                              \
	} while (0)

/* base64 of FL_MANIFEST_BODY_MAX bytes, and of a signature. */
#define BODY_B64_MAX (((FL_MANIFEST_BODY_MAX + 2) / 3) * 4)
#define SIG_B64_LEN  (((FL_MANIFEST_SIG_BYTES + 2) / 3) * 4)
#define KID_HEX_LEN  (2 * FL_MANIFEST_KID_BYTES)
/* The standalone envelope, with room for its field names. */
#define ENV_JSON_MAX (BODY_B64_MAX + SIG_B64_LEN + KID_HEX_LEN + 64)

static int fail(struct fl_proto_diag *d, const char *name, const char *what)
{
	fl_proto__diag(d, name, what);
	return FL_EINVAL;
}

/* Refuses any member of obj whose name is not in names (NULL-ended). */
static int only_known(const cJSON *obj, const char *const *names,
		      struct fl_proto_diag *d)
{
	for (const cJSON *it = obj->child; it != NULL; it = it->next) {
		size_t i;

		for (i = 0; names[i] != NULL; i++) {
			if (it->string && strcmp(it->string, names[i]) == 0)
				break;
		}
		if (names[i] == NULL)
			return fail(d, it->string ? it->string : "member",
				    "unknown field");
	}
	return 0;
}

/* ---- envelope ---------------------------------------------------------- */

int fl_manifest__env_to_json(cJSON *obj, const struct fl_manifest_env *env)
{
	char kid[KID_HEX_LEN + 1];
	char sig[SIG_B64_LEN + 1];
	char body[BODY_B64_MAX + 1];
	int err;

	if (env->v != FL_MANIFEST_ENV_VERSION || env->body_len == 0 ||
	    env->body_len > FL_MANIFEST_BODY_MAX)
		return FL_EINVAL;
	CHECK(fl_hex_encode(kid, sizeof(kid), env->kid, sizeof(env->kid)));
	CHECK(fl_base64_encode(body, sizeof(body), NULL, env->body,
			       env->body_len));
	CHECK(fl_base64_encode(sig, sizeof(sig), NULL, env->sig,
			       sizeof(env->sig)));
	CHECK(fl_proto__add_uint(obj, "v", env->v));
	CHECK(fl_proto__add_str(obj, "kid", kid));
	CHECK(fl_proto__add_str(obj, "body", body));
	CHECK(fl_proto__add_str(obj, "sig", sig));
out:
	return err;
}

/* Reads a string member without copying it (the tree outlives the use). */
static int str_member(const char **out, const cJSON *obj, const char *name,
		      struct fl_proto_diag *d)
{
	const cJSON *m;
	int err = fl_proto__member(&m, obj, name, true, d);

	if (err)
		return err;
	if (!cJSON_IsString(m) || m->valuestring == NULL)
		return fail(d, name, "not a string");
	*out = m->valuestring;
	return 0;
}

int fl_manifest__env_from_json(struct fl_manifest_env *out, const cJSON *obj,
			       struct fl_proto_diag *d)
{
	static const char *const names[] = {"v", "kid", "body", "sig", NULL};
	const char *kid, *body, *sig;
	size_t n, len;
	uint64_t v = 0;
	int err;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(obj))
		return fail(d, "manifest", "not an object");
	CHECK(fl_proto__get_uint(&v, obj, "v", true, 0, 255, d));
	if (v != FL_MANIFEST_ENV_VERSION) {
		fl_proto__diag(d, "manifest.v", "unsupported envelope version");
		err = FL_ENOTSUP;
		goto out;
	}
	CHECK(only_known(obj, names, d));
	CHECK(str_member(&kid, obj, "kid", d));
	CHECK(str_member(&body, obj, "body", d));
	CHECK(str_member(&sig, obj, "sig", d));
	if (strlen(kid) != KID_HEX_LEN ||
	    !fl_proto__is_lower_hex(kid, KID_HEX_LEN)) {
		err = fail(d, "manifest.kid", "not 16 lowercase hex digits");
		goto out;
	}
	CHECK(fl_hex_decode(out->kid, sizeof(out->kid), kid, KID_HEX_LEN));
	len = strlen(body);
	if (len > BODY_B64_MAX) {
		fl_proto__diag(d, "manifest.body", "too long");
		err = FL_ETOOBIG;
		goto out;
	}
	err = fl_base64_decode(out->body, sizeof(out->body), &n, body, len);
	if (err || n == 0) {
		err = err ? err : FL_EINVAL;
		fl_proto__diag(d, "manifest.body",
			       "not base64 of 1..896 bytes");
		goto out;
	}
	out->body_len = (uint16_t)n;
	len = strlen(sig);
	err = len == SIG_B64_LEN ? fl_base64_decode(out->sig, sizeof(out->sig),
						    &n, sig, len)
				 : FL_EINVAL;
	if (err || n != FL_MANIFEST_SIG_BYTES) {
		err = FL_EINVAL;
		fl_proto__diag(d, "manifest.sig", "not base64 of 64 bytes");
		goto out;
	}
	out->v = (uint8_t)v;
out:
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

int fl_manifest_env_encode(char *out, size_t out_size, size_t *out_len,
			   const struct fl_manifest_env *env)
{
	cJSON *root;
	int err;

	if (out != NULL && out_size > 0)
		out[0] = '\0';
	if (env == NULL)
		return FL_EINVAL;
	root = cJSON_CreateObject();
	if (root == NULL)
		return FL_ENOMEM;
	CHECK(fl_manifest__env_to_json(root, env));
	CHECK(fl_proto__print(root, out, out_size, out_len, ENV_JSON_MAX));
out:
	cJSON_Delete(root);
	return err;
}

int fl_manifest_env_decode(struct fl_manifest_env *out, const char *in,
			   size_t len, struct fl_proto_diag *d)
{
	cJSON *root = NULL;
	int err;

	if (out == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	CHECK(fl_proto__parse(&root, in, len, ENV_JSON_MAX, d));
	CHECK(fl_manifest__env_from_json(out, root, d));
out:
	cJSON_Delete(root);
	return err;
}

/* ---- body -------------------------------------------------------------- */

static int body_validate(const struct fl_manifest *m, struct fl_proto_diag *d)
{
	struct fl_semver ver;
	struct fl_semver_range range;
	int err;

	if (m->v != FL_MANIFEST_BODY_VERSION)
		return fail(d, "v", "not 1");
	err = fl_proto__check_str(m->component, sizeof(m->component),
				  FL_CS_IDENT);
	if (err || m->component[0] == '\0')
		return fail(d, "component", "empty or not an ident");
	err = fl_proto__check_str(m->version, sizeof(m->version),
				  FL_CS_VERSION);
	if (err || fl_semver_parse(&ver, m->version, strlen(m->version)) != 0)
		return fail(d, "version", "not a semantic version");
	if (m->n_hardware == 0 || m->n_hardware > FL_MANIFEST_HW_MAX)
		return fail(d, "hardware", "not 1..8 models");
	for (unsigned i = 0; i < m->n_hardware; i++) {
		err = fl_proto__check_str(m->hardware[i],
					  sizeof(m->hardware[i]), FL_CS_IDENT);
		if (err || m->hardware[i][0] == '\0')
			return fail(d, "hardware", "empty or not an ident");
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(m->hardware[i], m->hardware[j]) == 0)
				return fail(d, "hardware", "model twice");
		}
	}
	if (m->length == 0)
		return fail(d, "length", "zero");
	err = fl_proto__check_str(m->url, sizeof(m->url), FL_CS_URL);
	if (err || m->url[0] == '\0')
		return fail(d, "url", "not scheme://...");
	if (m->seq == 0 || m->seq > FL_PROTO_UINT_MAX)
		return fail(d, "seq", "not 1..10^15-1");
	if (m->issued > FL_PROTO_UINT_MAX || m->expires > FL_PROTO_UINT_MAX ||
	    m->expires <= m->issued)
		return fail(d, "expires", "out of range or not after issued");
	err = fl_proto__check_str(m->from, sizeof(m->from), FL_CS_RANGE);
	if (err || (m->from[0] && fl_semver_range_parse(&range, m->from) != 0))
		return fail(d, "from", "not a version range");
	return 0;
}

int fl_manifest_validate(const struct fl_manifest *m,
			 struct fl_proto_diag *diag)
{
	if (m == NULL)
		return FL_EINVAL;
	return body_validate(m, diag);
}

int fl_manifest_body_encode(uint8_t *out, size_t out_size, size_t *out_len,
			    const struct fl_manifest *m)
{
	char sha[2 * FL_SHA256_BYTES + 1];
	cJSON *root = NULL, *arr;
	int err;

	if (out == NULL || m == NULL)
		return FL_EINVAL;
	CHECK(body_validate(m, NULL));
	root = cJSON_CreateObject();
	if (root == NULL)
		return FL_ENOMEM;
	CHECK(fl_proto__add_uint(root, "v", m->v));
	CHECK(fl_proto__add_str(root, "component", m->component));
	CHECK(fl_proto__add_str(root, "version", m->version));
	arr = cJSON_AddArrayToObject(root, "hardware");
	if (arr == NULL)
		CHECK(FL_ENOMEM);
	for (unsigned i = 0; i < m->n_hardware; i++) {
		cJSON *s = cJSON_CreateString(m->hardware[i]);

		if (s == NULL)
			CHECK(FL_ENOMEM);
		cJSON_AddItemToArray(arr, s);
	}
	CHECK(fl_proto__add_uint(root, "length", m->length));
	CHECK(fl_hex_encode(sha, sizeof(sha), m->sha256, sizeof(m->sha256)));
	CHECK(fl_proto__add_str(root, "sha256", sha));
	CHECK(fl_proto__add_str(root, "url", m->url));
	CHECK(fl_proto__add_uint(root, "seq", m->seq));
	CHECK(fl_proto__add_uint(root, "issued", m->issued));
	CHECK(fl_proto__add_uint(root, "expires", m->expires));
	CHECK(fl_proto__add_bool(root, "rollback", m->is_rollback));
	if (m->from[0])
		CHECK(fl_proto__add_str(root, "from", m->from));
	/* print writes a NUL after the body: it is not part of the body. */
	CHECK(fl_proto__print(root, (char *)out, out_size, out_len,
			      FL_MANIFEST_BODY_MAX));
out:
	cJSON_Delete(root);
	return err;
}

static int decode_hardware(struct fl_manifest *out, const cJSON *root,
			   struct fl_proto_diag *d)
{
	const cJSON *arr, *it;
	int err = fl_proto__member(&arr, root, "hardware", true, d);

	if (err)
		return err;
	if (!cJSON_IsArray(arr))
		return fail(d, "hardware", "not an array");
	cJSON_ArrayForEach(it, arr)
	{
		char *dst;

		if (out->n_hardware == FL_MANIFEST_HW_MAX) {
			fl_proto__diag(d, "hardware", "too many");
			return FL_ETOOBIG;
		}
		dst = out->hardware[out->n_hardware++];
		if (!cJSON_IsString(it) || it->valuestring == NULL)
			return fail(d, "hardware", "not a string");
		err = fl_proto__check_str(it->valuestring, FL_PROTO_NAME_MAX,
					  FL_CS_IDENT);
		if (err) {
			fl_proto__diag(d, "hardware", "bad model name");
			return err;
		}
		(void)fl_strlcpy(dst, it->valuestring, FL_PROTO_NAME_MAX);
	}
	return 0;
}

int fl_manifest_body_decode_unverified(struct fl_manifest *out,
				       const uint8_t *body, size_t len,
				       struct fl_proto_diag *d)
{
	static const char *const names[] = {
		"v",	    "component", "version", "hardware", "length",
		"sha256",   "url",	 "seq",	    "issued",	"expires",
		"rollback", "from",	 NULL};
	char sha[2 * FL_SHA256_BYTES + 1] = "";
	cJSON *root = NULL;
	uint64_t v = 0, length = 0;
	int err;

	if (out == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	CHECK(fl_proto__parse(&root, (const char *)body, len,
			      FL_MANIFEST_BODY_MAX, d));
	CHECK(fl_proto__get_uint(&v, root, "v", true, 0, 255, d));
	if (v != FL_MANIFEST_BODY_VERSION) {
		fl_proto__diag(d, "v", "unsupported body version");
		err = FL_ENOTSUP;
		goto out;
	}
	out->v = (uint8_t)v;
	CHECK(only_known(root, names, d));
	CHECK(fl_proto__get_str(out->component, sizeof(out->component), root,
				"component", true, FL_CS_IDENT, d));
	CHECK(fl_proto__get_str(out->version, sizeof(out->version), root,
				"version", true, FL_CS_VERSION, d));
	CHECK(decode_hardware(out, root, d));
	CHECK(fl_proto__get_uint(&length, root, "length", true, 1, UINT32_MAX,
				 d));
	out->length = (uint32_t)length;
	CHECK(fl_proto__get_str(sha, sizeof(sha), root, "sha256", true,
				FL_CS_TEXT, d));
	if (strlen(sha) != 2 * FL_SHA256_BYTES ||
	    !fl_proto__is_lower_hex(sha, 2 * FL_SHA256_BYTES)) {
		err = fail(d, "sha256", "not 64 lowercase hex digits");
		goto out;
	}
	CHECK(fl_hex_decode(out->sha256, sizeof(out->sha256), sha,
			    2 * FL_SHA256_BYTES));
	CHECK(fl_proto__get_str(out->url, sizeof(out->url), root, "url", true,
				FL_CS_URL, d));
	CHECK(fl_proto__get_uint(&out->seq, root, "seq", true, 1,
				 FL_PROTO_UINT_MAX, d));
	CHECK(fl_proto__get_uint(&out->issued, root, "issued", true, 0,
				 FL_PROTO_UINT_MAX, d));
	CHECK(fl_proto__get_uint(&out->expires, root, "expires", true, 1,
				 FL_PROTO_UINT_MAX, d));
	CHECK(fl_proto__get_bool(&out->is_rollback, root, "rollback", false,
				 d));
	CHECK(fl_proto__get_str(out->from, sizeof(out->from), root, "from",
				false, FL_CS_RANGE, d));
	CHECK(body_validate(out, d));
out:
	cJSON_Delete(root);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

/* ---- keys, verification, sealing --------------------------------------- */

int fl_manifest_kid(uint8_t kid[FL_MANIFEST_KID_BYTES],
		    const struct fl_crypto_ops *c,
		    const uint8_t pub[FL_MANIFEST_PUB_BYTES])
{
	uint8_t digest[FL_SHA256_BYTES];
	int err;

	if (kid == NULL || c == NULL || pub == NULL)
		return FL_EINVAL;
	err = fl_sha256(c, pub, FL_MANIFEST_PUB_BYTES, digest);
	if (err)
		return err;
	memcpy(kid, digest, FL_MANIFEST_KID_BYTES);
	return 0;
}

int fl_manifest_key_parse(struct fl_manifest_key *out,
			  const struct fl_crypto_ops *c, const char *text,
			  size_t len)
{
	int err;

	if (out == NULL || c == NULL || text == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	while (len > 0 && (*text == ' ' || *text == '\t' || *text == '\n' ||
			   *text == '\r')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' ||
			   text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len != 2 * FL_MANIFEST_PUB_BYTES)
		return FL_EINVAL;
	err = fl_hex_decode(out->pub, sizeof(out->pub), text, len);
	if (err == 0 && out->pub[0] != 0x04)
		err = FL_EINVAL;
	if (err == 0)
		err = fl_manifest_kid(out->kid, c, out->pub);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

int fl_manifest_verify(struct fl_manifest *out,
		       const struct fl_manifest_env *env,
		       const struct fl_manifest_key *keys, unsigned n_keys,
		       const struct fl_crypto_ops *c, struct fl_proto_diag *d)
{
	uint8_t digest[FL_SHA256_BYTES];
	bool known = false;
	int err = FL_EVERIFY;

	if (out == NULL || env == NULL || c == NULL || c->p256_verify == NULL ||
	    (keys == NULL && n_keys > 0))
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	if (env->v != FL_MANIFEST_ENV_VERSION) {
		fl_proto__diag(d, "manifest.v", "unsupported envelope version");
		return FL_ENOTSUP;
	}
	if (env->body_len == 0 || env->body_len > FL_MANIFEST_BODY_MAX)
		return fail(d, "manifest.body", "length out of range");
	err = fl_sha256(c, env->body, env->body_len, digest);
	if (err) {
		fl_proto__diag(d, "manifest", "hashing failed");
		return err;
	}
	err = FL_EVERIFY;
	for (unsigned i = 0; i < n_keys && err == FL_EVERIFY; i++) {
		if (memcmp(keys[i].kid, env->kid, FL_MANIFEST_KID_BYTES) != 0)
			continue;
		known = true;
		err = c->p256_verify(keys[i].pub, digest, env->sig);
	}
	if (!known) {
		fl_proto__diag(d, "manifest.kid", "no trusted key has this id");
		return FL_ENOENT;
	}
	if (err) {
		fl_proto__diag(d, "manifest.sig",
			       err == FL_EVERIFY ? "signature does not verify"
						 : "verification failed");
		return err;
	}
	/* Signed: only now is the body parsed. */
	return fl_manifest_body_decode_unverified(out, env->body, env->body_len,
						  d);
}

int fl_manifest_seal(struct fl_manifest_env *env, const struct fl_manifest *m,
		     const uint8_t kid[FL_MANIFEST_KID_BYTES],
		     const struct fl_crypto_ops *c, fl_manifest_sign_fn sign,
		     void *sign_ctx)
{
	uint8_t body[FL_MANIFEST_BODY_MAX + 1];
	uint8_t digest[FL_SHA256_BYTES];
	size_t n = 0;
	int err;

	if (env == NULL || m == NULL || kid == NULL || c == NULL ||
	    sign == NULL)
		return FL_EINVAL;
	memset(env, 0, sizeof(*env));
	CHECK(fl_manifest_body_encode(body, sizeof(body), &n, m));
	CHECK(fl_sha256(c, body, n, digest));
	CHECK(sign(sign_ctx, digest, env->sig));
	env->v = FL_MANIFEST_ENV_VERSION;
	memcpy(env->kid, kid, FL_MANIFEST_KID_BYTES);
	memcpy(env->body, body, n);
	env->body_len = (uint16_t)n;
out:
	if (err)
		memset(env, 0, sizeof(*env));
	return err;
}

/* ---- applicability ----------------------------------------------------- */

int fl_manifest_check(const struct fl_manifest *m,
		      const struct fl_manifest_facts *f, int *why)
{
	struct fl_semver cur, ver;
	struct fl_semver_range range;
	bool has_cur = false, model_ok = false;

	if (m == NULL || f == NULL || why == NULL || f->model == NULL)
		return FL_EINVAL;
	*why = FL_RESULT_NONE;
	if (f->current_version != NULL && f->current_version[0] != '\0')
		has_cur = fl_semver_parse(&cur, f->current_version,
					  strlen(f->current_version)) == 0;
	if (f->now != 0 && f->now >= m->expires)
		*why = FL_RESULT_EXPIRED;
	else if (m->seq < f->floor || (m->is_rollback && m->seq <= f->floor))
		*why = FL_RESULT_ANTI_ROLLBACK;
	else if (!m->is_rollback && has_cur &&
		 fl_semver_parse(&ver, m->version, strlen(m->version)) == 0 &&
		 fl_semver_cmp(&ver, &cur) < 0)
		*why = FL_RESULT_DOWNGRADE;
	if (*why != FL_RESULT_NONE)
		return FL_ESTATE;
	for (unsigned i = 0; i < m->n_hardware && i < FL_MANIFEST_HW_MAX; i++)
		model_ok |= strcmp(m->hardware[i], f->model) == 0;
	if (!model_ok)
		*why = FL_RESULT_WRONG_MODEL;
	else if (f->component != NULL && strcmp(f->component, m->component))
		*why = FL_RESULT_NOT_APPLICABLE;
	else if (m->from[0] != '\0' &&
		 (!has_cur || fl_semver_range_parse(&range, m->from) != 0 ||
		  !fl_semver_range_match(&range, &cur)))
		*why = FL_RESULT_NOT_APPLICABLE;
	return *why == FL_RESULT_NONE ? 0 : FL_ESTATE;
}
