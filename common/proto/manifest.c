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
 *
 * Method, envelope 2: the signing key is not trusted by itself; it comes
 * with a certificate, 95 fixed bytes signed by a root the device trusts.
 * The same rule holds one level up: the certificate's bytes are hashed
 * and the root's signature checked (the root picked by the kid at a fixed
 * offset) before any field of it is read; then its generation against the
 * device's key floor (revocation) and its expiry; then the body's
 * signature by the certified key; then the body is parsed, and its
 * "issued" time and kind (release or rollback) checked against what the
 * certificate allows.
 */
#include <string.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "fl/seal.h"
#include "fl/semver.h"
#include "proto_internal.h"

#define CHECK(expr)                                                            \
	do {                                                                   \
		err = (expr);                                                  \
		if (err)                                                       \
			goto out;                                              \
	} while (0)

/* base64 of FL_MANIFEST_BODY_MAX bytes, and of a signature. */
#define BODY_B64_MAX  (((FL_MANIFEST_BODY_MAX + 2) / 3) * 4)
#define BODY2_B64_MAX (((FL_MANIFEST_BODY2_MAX + 2) / 3) * 4)
#define SIG_B64_LEN   (((FL_MANIFEST_SIG_BYTES + 2) / 3) * 4)
#define CERT_B64_LEN  (((FL_CERT_BYTES + 2) / 3) * 4)
#define KID_HEX_LEN   (2 * FL_MANIFEST_KID_BYTES)
/* The standalone envelope, with room for its field names. */
#define ENV_JSON_MAX (BODY_B64_MAX + SIG_B64_LEN + KID_HEX_LEN + 64)

/* The certificate's layout (docs/formats.md, "Key certificate"). */
#define CERT_OFF_ROLES	    1
#define CERT_OFF_GENERATION 2
#define CERT_OFF_FLOOR	    4
#define CERT_OFF_ROOT	    6
#define CERT_OFF_NOT_BEFORE 14
#define CERT_OFF_NOT_AFTER  22
#define CERT_OFF_PUB	    30
#define CERT_ROLES_ALL	    (FL_CERT_ROLE_RELEASE | FL_CERT_ROLE_ROLLBACK)

_Static_assert(CERT_OFF_PUB + FL_MANIFEST_PUB_BYTES == FL_CERT_TBS_BYTES,
	       "certificate: 95 signed bytes");
_Static_assert(FL_CERT_TBS_BYTES + FL_MANIFEST_SIG_BYTES == FL_CERT_BYTES,
	       "certificate: 159 bytes");
_Static_assert(CERT_B64_LEN == 212 && BODY2_B64_MAX == 1068,
	       "envelope 2: base64 lengths");
_Static_assert(BODY2_B64_MAX + CERT_B64_LEN + 10 <= BODY_B64_MAX + 128,
	       "envelope 2 is no longer than envelope 1 plus 128 bytes");

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

static size_t body_max(uint8_t v)
{
	return v == FL_MANIFEST_ENV_CERTIFIED ? FL_MANIFEST_BODY2_MAX
					      : FL_MANIFEST_BODY_MAX;
}

int fl_manifest__env_to_json(cJSON *obj, const struct fl_manifest_env *env)
{
	char kid[KID_HEX_LEN + 1];
	char sig[SIG_B64_LEN + 1];
	char cert[CERT_B64_LEN + 1];
	char body[BODY_B64_MAX + 1];
	bool is_cert = env->v == FL_MANIFEST_ENV_CERTIFIED;
	int err;

	if ((env->v != FL_MANIFEST_ENV_VERSION && !is_cert) ||
	    env->body_len == 0 || env->body_len > body_max(env->v))
		return FL_EINVAL;
	CHECK(fl_hex_encode(kid, sizeof(kid), env->kid, sizeof(env->kid)));
	CHECK(fl_base64_encode(body, sizeof(body), NULL, env->body,
			       env->body_len));
	CHECK(fl_base64_encode(sig, sizeof(sig), NULL, env->sig,
			       sizeof(env->sig)));
	CHECK(fl_proto__add_uint(obj, "v", env->v));
	CHECK(fl_proto__add_str(obj, "kid", kid));
	if (is_cert) {
		CHECK(fl_base64_encode(cert, sizeof(cert), NULL, env->cert,
				       sizeof(env->cert)));
		CHECK(fl_proto__add_str(obj, "cert", cert));
	}
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

/* Decodes base64 text of exactly n bytes into out. */
static int exact_b64(uint8_t *out, size_t n, const char *text)
{
	size_t len = strlen(text), got = 0;
	int err = len == ((n + 2) / 3) * 4
			  ? fl_base64_decode(out, n, &got, text, len)
			  : FL_EINVAL;

	return err || got != n ? FL_EINVAL : 0;
}

int fl_manifest__env_from_json(struct fl_manifest_env *out, const cJSON *obj,
			       struct fl_proto_diag *d)
{
	static const char *const names[] = {"cert", "v",   "kid",
					    "body", "sig", NULL};
	const char *kid, *body, *sig, *cert;
	size_t n, len;
	uint64_t v = 0;
	int err;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(obj))
		return fail(d, "manifest", "not an object");
	CHECK(fl_proto__get_uint(&v, obj, "v", true, 0, 255, d));
	if (v != FL_MANIFEST_ENV_VERSION && v != FL_MANIFEST_ENV_CERTIFIED) {
		fl_proto__diag(d, "manifest.v", "unsupported envelope version");
		err = FL_ENOTSUP;
		goto out;
	}
	/* "cert" is known to envelope 2 only: 1 stops before it. */
	CHECK(only_known(obj, v == FL_MANIFEST_ENV_VERSION ? names + 1 : names,
			 d));
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
	if (len >
	    (v == FL_MANIFEST_ENV_VERSION ? BODY_B64_MAX : BODY2_B64_MAX)) {
		fl_proto__diag(d, "manifest.body", "too long");
		err = FL_ETOOBIG;
		goto out;
	}
	err = fl_base64_decode(out->body, sizeof(out->body), &n, body, len);
	if (err || n == 0 || n > body_max((uint8_t)v)) {
		err = err ? err : n ? FL_ETOOBIG : FL_EINVAL;
		fl_proto__diag(d, "manifest.body",
			       "not base64 of 1..896 (v 2: 800) bytes");
		goto out;
	}
	out->body_len = (uint16_t)n;
	if (exact_b64(out->sig, sizeof(out->sig), sig) != 0) {
		err = fail(d, "manifest.sig", "not base64 of 64 bytes");
		goto out;
	}
	if (v == FL_MANIFEST_ENV_CERTIFIED) {
		CHECK(str_member(&cert, obj, "cert", d));
		if (exact_b64(out->cert, sizeof(out->cert), cert) != 0) {
			err = fail(d, "manifest.cert",
				   "not base64 of 159 bytes");
			goto out;
		}
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

/* The body's rules beyond the charsets of its strings, which the decoder's
 * readers have checked already (body_validate() adds them). */
static int body_rules(const struct fl_manifest *m, struct fl_proto_diag *d)
{
	struct fl_semver ver;
	struct fl_semver_range range;

	if (m->v != FL_MANIFEST_BODY_VERSION && m->v != FL_MANIFEST_BODY_SEALED)
		return fail(d, "v", "not 1 or 2");
	if (m->is_sealed != (m->v == FL_MANIFEST_BODY_SEALED))
		return fail(d, "enc", "only and always in body format 2");
	if (m->is_sealed && (m->enc_zip > FL_SEAL_ZIP_ZSTD ||
			     m->enc_chunk < FL_SEAL_CHUNK_MIN ||
			     m->enc_chunk > FL_SEAL_CHUNK_MAX ||
			     m->enc_chunk % FL_SEAL_CHUNK_MIN != 0))
		return fail(d, "enc", "zip or chunk out of range");
	if (m->is_sealed &&
	    m->enc_length < FL_SEAL_HEADER_BYTES + FL_SEAL_RECORD_OVERHEAD + 1)
		return fail(d, "enc.length", "too short for a container");
	if (m->component[0] == '\0')
		return fail(d, "component", "empty or not an ident");
	if (fl_semver_parse(&ver, m->version, strlen(m->version)) != 0)
		return fail(d, "version", "not a semantic version");
	if (m->n_hardware == 0 || m->n_hardware > FL_MANIFEST_HW_MAX)
		return fail(d, "hardware", "not 1..8 models");
	for (unsigned i = 0; i < m->n_hardware; i++) {
		if (m->hardware[i][0] == '\0')
			return fail(d, "hardware", "empty or not an ident");
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(m->hardware[i], m->hardware[j]) == 0)
				return fail(d, "hardware", "model twice");
		}
	}
	if (m->length == 0)
		return fail(d, "length", "zero");
	if (m->url[0] == '\0')
		return fail(d, "url", "not scheme://...");
	if (m->seq == 0 || m->seq > FL_PROTO_UINT_MAX)
		return fail(d, "seq", "not 1..10^15-1");
	if (m->issued > FL_PROTO_UINT_MAX || m->expires > FL_PROTO_UINT_MAX ||
	    m->expires <= m->issued)
		return fail(d, "expires", "out of range or not after issued");
	if (m->from[0] && fl_semver_range_parse(&range, m->from) != 0)
		return fail(d, "from", "not a version range");
	return 0;
}

/* Every rule of the body: the charsets of its strings, then the rest. */
static int body_validate(const struct fl_manifest *m, struct fl_proto_diag *d)
{
	if (fl_proto_check_str(m->component, sizeof(m->component),
			       FL_CS_IDENT) != 0)
		return fail(d, "component", "empty or not an ident");
	if (fl_proto_check_str(m->version, sizeof(m->version), FL_CS_VERSION) !=
	    0)
		return fail(d, "version", "not a semantic version");
	for (unsigned i = 0; i < m->n_hardware && i < FL_MANIFEST_HW_MAX; i++) {
		if (fl_proto_check_str(m->hardware[i], sizeof(m->hardware[i]),
				       FL_CS_IDENT) != 0)
			return fail(d, "hardware", "empty or not an ident");
	}
	if (fl_proto_check_str(m->url, sizeof(m->url), FL_CS_URL) != 0)
		return fail(d, "url", "not scheme://...");
	if (fl_proto_check_str(m->from, sizeof(m->from), FL_CS_RANGE) != 0)
		return fail(d, "from", "not a version range");
	return body_rules(m, d);
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
	if (m->is_sealed) {
		cJSON *enc = cJSON_AddObjectToObject(root, "enc");

		if (enc == NULL)
			CHECK(FL_ENOMEM);
		CHECK(fl_proto__add_str(
			enc, "zip",
			m->enc_zip == FL_SEAL_ZIP_ZSTD ? "zstd" : "none"));
		CHECK(fl_proto__add_uint(enc, "chunk", m->enc_chunk));
		CHECK(fl_proto__add_uint(enc, "length", m->enc_length));
		CHECK(fl_hex_encode(sha, sizeof(sha), m->enc_sha256,
				    sizeof(m->enc_sha256)));
		CHECK(fl_proto__add_str(enc, "sha256", sha));
	}
	/* print writes a NUL after the body: it is not part of the body. */
	CHECK(fl_proto__print(root, (char *)out, out_size, out_len,
			      m->is_sealed ? FL_MANIFEST_SEALED_MAX
					   : FL_MANIFEST_BODY_MAX));
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
		err = fl_proto_check_str(it->valuestring, FL_PROTO_NAME_MAX,
					 FL_CS_IDENT);
		if (err) {
			fl_proto__diag(d, "hardware", "bad model name");
			return err;
		}
		(void)fl_strlcpy(dst, it->valuestring, FL_PROTO_NAME_MAX);
	}
	return 0;
}

/* Reads 64 lowercase hex digits of field name in obj into out. */
static int get_sha(uint8_t out[FL_SHA256_BYTES], const cJSON *obj,
		   const char *name, const char *diag_name,
		   struct fl_proto_diag *d)
{
	char sha[2 * FL_SHA256_BYTES + 1] = "";
	int err = fl_proto__get_str(sha, sizeof(sha), obj, name, true,
				    FL_CS_TEXT, d);

	if (err)
		return err;
	if (strlen(sha) != 2 * FL_SHA256_BYTES ||
	    !fl_proto__is_lower_hex(sha, 2 * FL_SHA256_BYTES))
		return fail(d, diag_name, "not 64 lowercase hex digits");
	return fl_hex_decode(out, FL_SHA256_BYTES, sha, 2 * FL_SHA256_BYTES);
}

/* Body format 2: "enc":{"zip","chunk","length","sha256"}, all required. */
static int decode_enc(struct fl_manifest *out, const cJSON *root,
		      struct fl_proto_diag *d)
{
	static const char *const names[] = {"zip", "chunk", "length", "sha256",
					    NULL};
	const cJSON *enc;
	char zip[8] = "";
	uint64_t chunk = 0, length = 0;
	int err = fl_proto__member(&enc, root, "enc", true, d);

	if (err)
		return err;
	if (!cJSON_IsObject(enc))
		return fail(d, "enc", "not an object");
	err = only_known(enc, names, d);
	if (err == 0)
		err = fl_proto__get_str(zip, sizeof(zip), enc, "zip", true,
					FL_CS_TOKEN, d);
	if (err)
		return err;
	if (strcmp(zip, "zstd") == 0)
		out->enc_zip = FL_SEAL_ZIP_ZSTD;
	else if (strcmp(zip, "none") == 0)
		out->enc_zip = FL_SEAL_ZIP_NONE;
	else
		return fail(d, "enc.zip", "not zstd or none");
	err = fl_proto__get_uint(&chunk, enc, "chunk", true, FL_SEAL_CHUNK_MIN,
				 FL_SEAL_CHUNK_MAX, d);
	if (err == 0)
		err = fl_proto__get_uint(&length, enc, "length", true, 1,
					 UINT32_MAX, d);
	if (err == 0)
		err = get_sha(out->enc_sha256, enc, "sha256", "enc.sha256", d);
	if (err)
		return err;
	out->enc_chunk = (uint32_t)chunk;
	out->enc_length = (uint32_t)length;
	out->is_sealed = true;
	return 0;
}

int fl_manifest_body_decode_unverified(struct fl_manifest *out,
				       const uint8_t *body, size_t len,
				       struct fl_proto_diag *d)
{
	static const char *const names[] = {
		"v",	    "component", "version", "hardware", "length",
		"sha256",   "url",	 "seq",	    "issued",	"expires",
		"rollback", "from",	 "enc",	    NULL};
	cJSON *root = NULL;
	uint64_t v = 0, length = 0;
	int err;

	if (out == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	CHECK(fl_proto__parse(&root, (const char *)body, len,
			      FL_MANIFEST_BODY_MAX, d));
	CHECK(fl_proto__get_uint(&v, root, "v", true, 0, 255, d));
	if (v != FL_MANIFEST_BODY_VERSION && v != FL_MANIFEST_BODY_SEALED) {
		fl_proto__diag(d, "v", "unsupported body version");
		err = FL_ENOTSUP;
		goto out;
	}
	if (v == FL_MANIFEST_BODY_SEALED && len > FL_MANIFEST_SEALED_MAX) {
		fl_proto__diag(d, "body", "format 2 over 672 bytes");
		err = FL_ETOOBIG;
		goto out;
	}
	out->v = (uint8_t)v;
	CHECK(only_known(root, names, d));
	if (v == FL_MANIFEST_BODY_SEALED)
		CHECK(decode_enc(out, root, d));
	else if (cJSON_GetObjectItemCaseSensitive(root, "enc") != NULL)
		CHECK(fail(d, "enc", "unknown field in body format 1"));
	CHECK(fl_proto__get_str(out->component, sizeof(out->component), root,
				"component", true, FL_CS_IDENT, d));
	CHECK(fl_proto__get_str(out->version, sizeof(out->version), root,
				"version", true, FL_CS_VERSION, d));
	CHECK(decode_hardware(out, root, d));
	CHECK(fl_proto__get_uint(&length, root, "length", true, 1, UINT32_MAX,
				 d));
	out->length = (uint32_t)length;
	CHECK(get_sha(out->sha256, root, "sha256", "sha256", d));
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
	/* The readers checked every string's charset and size. */
	CHECK(body_rules(out, d));
out:
	cJSON_Delete(root);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

/* ---- key certificates --------------------------------------------------- */

/* The fields of a certificate a device uses, read in place. */
struct cert_view {
	uint8_t roles;
	uint16_t generation, floor;
	uint64_t not_before, not_after;
	const uint8_t *pub;
};

static bool view_is_valid(const struct cert_view *v)
{
	return v->roles != 0 && (v->roles & ~CERT_ROLES_ALL) == 0 &&
	       v->floor != 0 && v->floor <= v->generation &&
	       v->not_after > v->not_before &&
	       v->not_after <= FL_PROTO_UINT_MAX && v->pub[0] == 0x04;
}

/* Reads and checks the layout of in; FL_EINVAL if it breaks a rule. */
static int cert_view(struct cert_view *v, const uint8_t *in)
{
	v->roles = in[CERT_OFF_ROLES];
	v->generation = fl_get_le16(in + CERT_OFF_GENERATION);
	v->floor = fl_get_le16(in + CERT_OFF_FLOOR);
	v->not_before = fl_get_le64(in + CERT_OFF_NOT_BEFORE);
	v->not_after = fl_get_le64(in + CERT_OFF_NOT_AFTER);
	v->pub = in + CERT_OFF_PUB;
	return in[0] == FL_CERT_FORMAT && view_is_valid(v) ? 0 : FL_EINVAL;
}

int fl_manifest_cert_decode(struct fl_manifest_cert *out,
			    const uint8_t in[FL_CERT_BYTES])
{
	struct cert_view v;

	if (out == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	if (in == NULL || cert_view(&v, in) != 0)
		return FL_EINVAL;
	out->roles = v.roles;
	out->generation = v.generation;
	out->floor = v.floor;
	memcpy(out->root_kid, in + CERT_OFF_ROOT, FL_MANIFEST_KID_BYTES);
	out->not_before = v.not_before;
	out->not_after = v.not_after;
	memcpy(out->pub, v.pub, FL_MANIFEST_PUB_BYTES);
	memcpy(out->sig, in + FL_CERT_TBS_BYTES, FL_MANIFEST_SIG_BYTES);
	return 0;
}

int fl_manifest_certify(uint8_t out[FL_CERT_BYTES],
			struct fl_manifest_cert *cert,
			const struct fl_crypto_ops *c, fl_manifest_sign_fn sign,
			void *sign_ctx)
{
	uint8_t digest[FL_SHA256_BYTES];
	struct cert_view v;
	int err;

	if (out == NULL || cert == NULL || c == NULL || sign == NULL)
		return FL_EINVAL;
	v.roles = cert->roles;
	v.generation = cert->generation;
	v.floor = cert->floor;
	v.not_before = cert->not_before;
	v.not_after = cert->not_after;
	v.pub = cert->pub;
	if (!view_is_valid(&v))
		return FL_EINVAL;
	memset(out, 0, FL_CERT_BYTES);
	out[0] = FL_CERT_FORMAT;
	out[CERT_OFF_ROLES] = cert->roles;
	fl_put_le16(out + CERT_OFF_GENERATION, cert->generation);
	fl_put_le16(out + CERT_OFF_FLOOR, cert->floor);
	memcpy(out + CERT_OFF_ROOT, cert->root_kid, FL_MANIFEST_KID_BYTES);
	fl_put_le64(out + CERT_OFF_NOT_BEFORE, cert->not_before);
	fl_put_le64(out + CERT_OFF_NOT_AFTER, cert->not_after);
	memcpy(out + CERT_OFF_PUB, cert->pub, FL_MANIFEST_PUB_BYTES);
	CHECK(fl_sha256(c, out, FL_CERT_TBS_BYTES, digest));
	CHECK(sign(sign_ctx, digest, out + FL_CERT_TBS_BYTES));
	memcpy(cert->sig, out + FL_CERT_TBS_BYTES, FL_MANIFEST_SIG_BYTES);
out:
	if (err)
		memset(out, 0, FL_CERT_BYTES);
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

/* Verifies sig over digest with each key of the list whose id is kid, until
 * one verifies. Returns 0, FL_ENOENT (no key has that id), FL_EVERIFY, or
 * the port's error. */
static int verify_by(const struct fl_manifest_key *keys, unsigned n,
		     const uint8_t *kid, const uint8_t digest[FL_SHA256_BYTES],
		     const uint8_t sig[FL_MANIFEST_SIG_BYTES],
		     const struct fl_crypto_ops *c)
{
	int err = FL_ENOENT;

	for (unsigned i = 0; i < n && (err == FL_ENOENT || err == FL_EVERIFY);
	     i++) {
		if (memcmp(keys[i].kid, kid, FL_MANIFEST_KID_BYTES) == 0)
			err = c->p256_verify(keys[i].pub, digest, sig);
	}
	return err;
}

static int refuse(struct fl_manifest_signer *who, const char *reason,
		  struct fl_proto_diag *d, const char *what, int err)
{
	who->reason = reason;
	fl_proto__diag(d, reason, what);
	return err;
}

/* Envelope 2, before the body is touched: the root's signature over the
 * certificate, then its fields, the key floor and the expiry. */
static int check_cert(struct cert_view *cert, struct fl_manifest_signer *who,
		      const struct fl_manifest_env *env,
		      const struct fl_manifest_trust *t,
		      const struct fl_crypto_ops *c, struct fl_proto_diag *d)
{
	uint8_t digest[FL_SHA256_BYTES], kid[FL_MANIFEST_KID_BYTES];
	int err = fl_sha256(c, env->cert, FL_CERT_TBS_BYTES, digest);

	if (err == 0)
		err = verify_by(t->roots, t->n_roots, env->cert + CERT_OFF_ROOT,
				digest, env->cert + FL_CERT_TBS_BYTES, c);
	if (err == FL_ENOENT)
		return refuse(who, "unknown_root", d,
			      "no trusted root has the certificate's kid", err);
	if (err == FL_EVERIFY)
		return refuse(who, "bad_certificate", d,
			      "root signature does not verify", err);
	if (err)
		return err;
	/* Signed by a root: only now are its fields read. */
	if (cert_view(cert, env->cert) != 0)
		return refuse(who, "bad_certificate", d, "malformed",
			      FL_EINVAL);
	err = fl_manifest_kid(kid, c, cert->pub);
	if (err)
		return err;
	if (memcmp(kid, env->kid, FL_MANIFEST_KID_BYTES) != 0)
		return refuse(who, "bad_certificate", d,
			      "certifies another key than kid", FL_EVERIFY);
	if (cert->generation < t->key_floor)
		return refuse(who, "revoked_key", d, "generation revoked",
			      FL_EROLLBACK);
	if (t->now != 0 && t->now >= cert->not_after)
		return refuse(who, "key_expired", d, "certificate expired",
			      FL_ESTATE);
	return 0;
}

static bool is_listed(const uint8_t (*kids)[FL_MANIFEST_KID_BYTES], unsigned n,
		      const uint8_t kid[FL_MANIFEST_KID_BYTES])
{
	for (unsigned i = 0; i < n; i++)
		if (memcmp(kids[i], kid, FL_MANIFEST_KID_BYTES) == 0)
			return true;
	return n == 0;
}

/* After parsing: what the signing key may sign, and when. */
static int check_use(const struct fl_manifest *m, const struct cert_view *cert,
		     const struct fl_manifest_env *env,
		     const struct fl_manifest_trust *t,
		     struct fl_manifest_signer *who, struct fl_proto_diag *d)
{
	uint8_t need =
		m->is_rollback ? FL_CERT_ROLE_ROLLBACK : FL_CERT_ROLE_RELEASE;

	if (env->v == FL_MANIFEST_ENV_VERSION) {
		if (m->is_rollback &&
		    !is_listed(t->rollback_kids, t->n_rollback_kids, env->kid))
			return refuse(who, "not_a_rollback_key", d,
				      "key may not sign rollbacks", FL_ESTATE);
		return 0;
	}
	if (m->issued < cert->not_before)
		return refuse(who, "key_not_yet_valid", d,
			      "issued before the certificate", FL_ESTATE);
	if (m->issued >= cert->not_after)
		return refuse(who, "key_expired", d,
			      "issued after the certificate", FL_ESTATE);
	if (!(cert->roles & need))
		return refuse(who,
			      m->is_rollback ? "not_a_rollback_key"
					     : "not_a_release_key",
			      d, "role not certified", FL_ESTATE);
	return 0;
}

int fl_manifest_verify_trusted(struct fl_manifest *out,
			       struct fl_manifest_signer *who,
			       const struct fl_manifest_env *env,
			       const struct fl_manifest_trust *t,
			       const struct fl_crypto_ops *c,
			       struct fl_proto_diag *d)
{
	struct cert_view cert;
	uint8_t digest[FL_SHA256_BYTES];
	bool is_cert;
	int err;

	if (out == NULL || who == NULL || env == NULL || t == NULL ||
	    c == NULL || c->p256_verify == NULL ||
	    (t->keys == NULL && t->n_keys > 0) ||
	    (t->roots == NULL && t->n_roots > 0) ||
	    (t->rollback_kids == NULL && t->n_rollback_kids > 0))
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	memset(who, 0, sizeof(*who));
	memset(&cert, 0, sizeof(cert));
	who->reason = "";
	is_cert = env->v == FL_MANIFEST_ENV_CERTIFIED;
	if (!is_cert && env->v != FL_MANIFEST_ENV_VERSION) {
		fl_proto__diag(d, "manifest.v", "unsupported envelope version");
		return FL_ENOTSUP;
	}
	if (env->body_len == 0 || env->body_len > body_max(env->v))
		return fail(d, "manifest.body", "length out of range");
	if (is_cert) {
		err = check_cert(&cert, who, env, t, c, d);
		if (err)
			return err;
	}
	err = fl_sha256(c, env->body, env->body_len, digest);
	if (err == 0)
		err = is_cert ? c->p256_verify(cert.pub, digest, env->sig)
			      : verify_by(t->keys, t->n_keys, env->kid, digest,
					  env->sig, c);
	if (err == FL_ENOENT)
		return refuse(who, "unknown_key", d,
			      "no trusted key has this kid", err);
	if (err) {
		fl_proto__diag(d, "manifest.sig",
			       err == FL_EVERIFY ? "signature does not verify"
						 : "verification failed");
		return err;
	}
	/* Signed: only now is the body parsed. */
	err = fl_manifest_body_decode_unverified(out, env->body, env->body_len,
						 d);
	if (err == 0)
		err = check_use(out, &cert, env, t, who, d);
	if (err) {
		memset(out, 0, sizeof(*out));
		return err;
	}
	memcpy(who->kid, env->kid, FL_MANIFEST_KID_BYTES);
	who->generation = cert.generation;
	who->floor = cert.floor;
	return 0;
}

int fl_manifest_verify(struct fl_manifest *out,
		       const struct fl_manifest_env *env,
		       const struct fl_manifest_key *keys, unsigned n_keys,
		       const struct fl_crypto_ops *c, struct fl_proto_diag *d)
{
	struct fl_manifest_trust t;
	struct fl_manifest_signer who;

	memset(&t, 0, sizeof(t));
	t.keys = keys;
	t.n_keys = n_keys;
	return fl_manifest_verify_trusted(out, &who, env, &t, c, d);
}

/* Encodes m as a body of at most max bytes and signs it. */
static int seal(struct fl_manifest_env *env, const struct fl_manifest *m,
		size_t max, const struct fl_crypto_ops *c,
		fl_manifest_sign_fn sign, void *sign_ctx)
{
	uint8_t body[FL_MANIFEST_BODY_MAX + 1];
	uint8_t digest[FL_SHA256_BYTES];
	size_t n = 0;
	int err;

	CHECK(fl_manifest_body_encode(body, sizeof(body), &n, m));
	if (n > max)
		CHECK(FL_ETOOBIG);
	CHECK(fl_sha256(c, body, n, digest));
	CHECK(sign(sign_ctx, digest, env->sig));
	memcpy(env->body, body, n);
	env->body_len = (uint16_t)n;
out:
	return err;
}

int fl_manifest_seal(struct fl_manifest_env *env, const struct fl_manifest *m,
		     const uint8_t kid[FL_MANIFEST_KID_BYTES],
		     const struct fl_crypto_ops *c, fl_manifest_sign_fn sign,
		     void *sign_ctx)
{
	int err;

	if (env == NULL || m == NULL || kid == NULL || c == NULL ||
	    sign == NULL)
		return FL_EINVAL;
	memset(env, 0, sizeof(*env));
	err = seal(env, m, FL_MANIFEST_BODY_MAX, c, sign, sign_ctx);
	if (err) {
		memset(env, 0, sizeof(*env));
		return err;
	}
	env->v = FL_MANIFEST_ENV_VERSION;
	memcpy(env->kid, kid, FL_MANIFEST_KID_BYTES);
	return 0;
}

int fl_manifest_seal_certified(struct fl_manifest_env *env,
			       const struct fl_manifest *m,
			       const uint8_t cert[FL_CERT_BYTES],
			       const struct fl_crypto_ops *c,
			       fl_manifest_sign_fn sign, void *sign_ctx)
{
	struct fl_manifest_cert dec;
	uint8_t digest[FL_SHA256_BYTES];
	int err;

	if (env == NULL || m == NULL || cert == NULL || c == NULL ||
	    sign == NULL)
		return FL_EINVAL;
	memset(env, 0, sizeof(*env));
	CHECK(fl_manifest_cert_decode(&dec, cert));
	CHECK(fl_manifest_kid(env->kid, c, dec.pub));
	CHECK(seal(env, m, FL_MANIFEST_BODY2_MAX, c, sign, sign_ctx));
	/* A signer with the wrong key would make manifests no device takes:
	 * check the signature against the certified key when the port can. */
	if (c->p256_verify != NULL) {
		CHECK(fl_sha256(c, env->body, env->body_len, digest));
		CHECK(c->p256_verify(dec.pub, digest, env->sig));
	}
	env->v = FL_MANIFEST_ENV_CERTIFIED;
	memcpy(env->cert, cert, FL_CERT_BYTES);
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
