/*
 * auth.c -- API tokens and roles (auth.h): making a token, checking a
 * presented one, and the role matrix.
 *
 * Method: a token names itself ("flt_NAME_SECRET"), so checking one is a
 * lookup by name and one comparison: the SHA-256 of the presented secret
 * against the stored hash, with CRYPTO_memcmp (constant time), so the
 * time taken says nothing about how much of a guess was right. A
 * malformed token, an unknown name and a wrong secret all read "unknown"
 * to the client; only the right secret of a revoked token is told that
 * it was revoked. The secret is 256 bits from RAND_bytes (the system's
 * random source through OpenSSL), so the hash needs no salt or
 * stretching: nothing of it can be guessed.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth.h"
#include "fl/err.h"

static const char *const ROLE_NAMES[] = {"none", "viewer", "operator",
					 "approver", "admin"};

const char *fl_role_name(int role)
{
	if (role < FL_ROLE_VIEWER || role > FL_ROLE_ADMIN)
		return ROLE_NAMES[0];
	return ROLE_NAMES[role];
}

int fl_role_parse(const char *s)
{
	if (s == NULL)
		return FL_ROLE_NONE;
	for (int r = FL_ROLE_VIEWER; r <= FL_ROLE_ADMIN; r++)
		if (strcmp(s, ROLE_NAMES[r]) == 0)
			return r;
	return FL_ROLE_NONE;
}

bool fl_role_allows(int role, int perm)
{
	switch (role) {
	case FL_ROLE_VIEWER: return perm == FL_PERM_READ;
	case FL_ROLE_OPERATOR:
		return perm == FL_PERM_READ || perm == FL_PERM_OPERATE;
	case FL_ROLE_APPROVER:
		return perm == FL_PERM_READ || perm == FL_PERM_APPROVE;
	case FL_ROLE_ADMIN:
		return perm >= FL_PERM_READ && perm <= FL_PERM_ADMIN;
	default: return false;
	}
}

int fl_perm_role(int perm)
{
	switch (perm) {
	case FL_PERM_READ: return FL_ROLE_VIEWER;
	case FL_PERM_OPERATE: return FL_ROLE_OPERATOR;
	case FL_PERM_APPROVE: return FL_ROLE_APPROVER;
	default: return FL_ROLE_ADMIN;
	}
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-';
}

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= FL_TOKEN_NAME_MAX || !is_name_char(s[0]) ||
	    s[0] == '.' || s[0] == '_' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_name_char(s[i]))
			return false;
	return true;
}

bool fl_token_name_ok(const char *name)
{
	return name != NULL && name_ok(name, strnlen(name, FL_TOKEN_NAME_MAX));
}

static void hex(char *out, const unsigned char *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int unhex(unsigned char *out, const char *s, size_t n)
{
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(v << 4);
		else
			out[i / 2] |= (unsigned char)v;
	}
	return 0;
}

/* The stored form of a secret: its SHA-256 in hex. */
static int secret_hash(const unsigned char *secret,
		       char out[FL_STORE_SHA256_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;

	if (EVP_Digest(secret, FL_TOKEN_SECRET_BYTES, md, &md_len, EVP_sha256(),
		       NULL) != 1 ||
	    md_len != 32)
		return FL_EIO;
	hex(out, md, 32);
	return 0;
}

int fl_token_create(struct fl_store *st, const char *name, int role,
		    int64_t now_s, char *text, size_t text_size)
{
	unsigned char secret[FL_TOKEN_SECRET_BYTES];
	char secret_hex[2 * FL_TOKEN_SECRET_BYTES + 1];
	struct fl_store_token t;
	int rc;

	if (st == NULL || !fl_token_name_ok(name) ||
	    fl_role_name(role) == ROLE_NAMES[0] || text == NULL ||
	    text_size < FL_TOKEN_TEXT_MAX)
		return FL_EINVAL;
	text[0] = '\0';
	if (RAND_bytes(secret, sizeof(secret)) != 1)
		return FL_EIO;
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.role, sizeof(t.role), "%s", fl_role_name(role));
	t.created_at_s = now_s;
	t.revoked_at_s = FL_STORE_NONE;
	rc = secret_hash(secret, t.hash);
	if (rc == 0)
		rc = fl_store_token_add(st, &t);
	if (rc == 0) {
		hex(secret_hex, secret, sizeof(secret));
		snprintf(text, text_size, FL_TOKEN_PREFIX "%s_%s", name,
			 secret_hex);
		OPENSSL_cleanse(secret_hex, sizeof(secret_hex));
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	return rc;
}

int fl_token_check(struct fl_store *st, const char *text, size_t len,
		   struct fl_store_token *out, int *role, int *verdict)
{
	const size_t pre = sizeof(FL_TOKEN_PREFIX) - 1;
	const size_t sec = 2 * FL_TOKEN_SECRET_BYTES;
	unsigned char secret[FL_TOKEN_SECRET_BYTES];
	char name[FL_TOKEN_NAME_MAX], hash[FL_STORE_SHA256_MAX];
	size_t n;
	int rc;

	*role = FL_ROLE_NONE;
	*verdict = FL_TOKEN_MALFORMED;
	if (text == NULL || len < pre + 2 + sec ||
	    memcmp(text, FL_TOKEN_PREFIX, pre) != 0 ||
	    text[len - sec - 1] != '_')
		return 0;
	n = len - pre - sec - 1;
	if (!name_ok(text + pre, n) ||
	    unhex(secret, text + len - sec, FL_TOKEN_SECRET_BYTES) != 0)
		return 0;
	memcpy(name, text + pre, n);
	name[n] = '\0';
	rc = secret_hash(secret, hash);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc != 0)
		return rc;
	rc = fl_store_token_get(st, name, out);
	if (rc == FL_ENOENT) {
		*verdict = FL_TOKEN_UNKNOWN;
		return 0;
	}
	if (rc != 0)
		return rc;
	if (strlen(out->hash) != 64 || CRYPTO_memcmp(out->hash, hash, 64) != 0)
		*verdict = FL_TOKEN_UNKNOWN;
	else if (out->revoked_at_s >= 0)
		*verdict = FL_TOKEN_REVOKED;
	else if ((*role = fl_role_parse(out->role)) == FL_ROLE_NONE)
		*verdict =
			FL_TOKEN_UNKNOWN; /* a role this fleetd does not know */
	else
		*verdict = FL_TOKEN_OK;
	return 0;
}

const char *fl_auth_bearer(const char *value, size_t *len)
{
	const char *p, *end;

	if (value == NULL)
		return NULL;
	while (*value == ' ' || *value == '\t')
		value++;
	if (strncasecmp(value, "Bearer", 6) != 0 ||
	    (value[6] != ' ' && value[6] != '\t'))
		return NULL;
	p = value + 6;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p;
	while (*end != '\0' && *end != ' ' && *end != '\t')
		end++;
	for (const char *q = end; *q != '\0'; q++)
		if (*q != ' ' && *q != '\t')
			return NULL; /* more than one word */
	if (end == p)
		return NULL;
	*len = (size_t)(end - p);
	return p;
}
