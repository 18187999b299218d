/*
 * test_manifest_vectors.c -- the signed-manifest vectors of
 * tests/vectors/manifest (good and bad certificate chains and bodies),
 * verified through fl_manifest_verify_trusted() with each crypto port:
 * OpenSSL (Linux) and Mbed TLS (microcontrollers) must give the same
 * answer, the one the vector expects.
 *
 * A vector is a text file of "name: value" lines (docs in the folder's
 * README.md): the trusted roots and keys, the key floor, the trusted time
 * (0: none), the manifest envelope as it travels, and the expected result:
 * "ok" with the body's version and seq and the certificate's generation,
 * or an error (enoent, everify, erollback, estate, einval) with the
 * reason token of docs/protocol.md.
 *
 *   test_manifest_vectors DIR
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fl/crypto_mbedtls.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/proto.h"

#define VECTORS_MIN 19 /* the folder holds at least these */
#define LINE_MAX    4096

static const char *dir;

struct vector {
	char name[4096];
	struct fl_manifest_key roots[4], keys[4];
	unsigned n_roots, n_keys;
	uint16_t key_floor;
	uint64_t now;
	char manifest[LINE_MAX];
	char expect[32], reason[48], version[32];
	uint64_t seq;
	uint16_t generation;
};

static int expected_err(const char *e)
{
	static const struct {
		const char *name;
		int err;
	} map[] = {{"ok", 0},
		   {"enoent", FL_ENOENT},
		   {"everify", FL_EVERIFY},
		   {"erollback", FL_EROLLBACK},
		   {"estate", FL_ESTATE},
		   {"einval", FL_EINVAL}};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, e) == 0)
			return map[i].err;
	fail_msg("unknown expect: %s", e);
	return 1;
}

static void load(struct vector *v, const char *path)
{
	char line[LINE_MAX + 64];
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *val = strstr(line, ": ");
		size_t n = strlen(line);

		if (line[0] == '#' || val == NULL)
			continue;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		*val = '\0';
		val += 2;
		if (strcmp(line, "root") == 0) {
			assert_true(v->n_roots < 4);
			assert_int_equal(
				fl_manifest_key_parse(&v->roots[v->n_roots++],
						      &fl_crypto_openssl, val,
						      strlen(val)),
				0);
		} else if (strcmp(line, "key") == 0) {
			assert_true(v->n_keys < 4);
			assert_int_equal(
				fl_manifest_key_parse(&v->keys[v->n_keys++],
						      &fl_crypto_openssl, val,
						      strlen(val)),
				0);
		} else if (strcmp(line, "key_floor") == 0) {
			v->key_floor = (uint16_t)strtoul(val, NULL, 10);
		} else if (strcmp(line, "now") == 0) {
			v->now = strtoull(val, NULL, 10);
		} else if (strcmp(line, "manifest") == 0) {
			snprintf(v->manifest, sizeof(v->manifest), "%s", val);
		} else if (strcmp(line, "expect") == 0) {
			snprintf(v->expect, sizeof(v->expect), "%s", val);
		} else if (strcmp(line, "reason") == 0) {
			snprintf(v->reason, sizeof(v->reason), "%s", val);
		} else if (strcmp(line, "version") == 0) {
			snprintf(v->version, sizeof(v->version), "%s", val);
		} else if (strcmp(line, "seq") == 0) {
			v->seq = strtoull(val, NULL, 10);
		} else if (strcmp(line, "generation") == 0) {
			v->generation = (uint16_t)strtoul(val, NULL, 10);
		} else {
			fail_msg("%s: unknown line '%s'", path, line);
		}
	}
	fclose(f);
	assert_true(v->manifest[0] != '\0' && v->expect[0] != '\0');
}

/* Runs one vector through one port. */
static void check(const struct vector *v, const struct fl_crypto_ops *c)
{
	static struct fl_manifest_env env;
	struct fl_manifest_trust t;
	struct fl_manifest_signer who;
	struct fl_manifest m;
	struct fl_proto_diag d = {""};
	int want = expected_err(v->expect), err;

	assert_int_equal(fl_manifest_env_decode(&env, v->manifest,
						strlen(v->manifest), NULL),
			 0);
	memset(&t, 0, sizeof(t));
	t.keys = v->keys;
	t.n_keys = v->n_keys;
	t.roots = v->roots;
	t.n_roots = v->n_roots;
	t.key_floor = v->key_floor;
	t.now = v->now;
	err = fl_manifest_verify_trusted(&m, &who, &env, &t, c, &d);
	if (err != want || strcmp(who.reason, v->reason) != 0)
		fail_msg("%s (%s): got %d '%s' (%s), want %s '%s'", v->name,
			 c->name, err, who.reason, d.msg, v->expect, v->reason);
	if (want != 0) {
		assert_int_equal(m.v, 0); /* nothing of the body is kept */
		return;
	}
	assert_string_equal(m.version, v->version);
	assert_int_equal(m.seq, v->seq);
	assert_int_equal(who.generation, v->generation);
}

static void run_port(void **state)
{
	const struct fl_crypto_ops *c = *state;
	static struct vector v;
	struct dirent **names = NULL;
	char path[4096];
	int n = scandir(dir, &names, NULL, alphasort), count = 0;

	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);

		if (len > 4 &&
		    strcmp(names[i]->d_name + len - 4, ".txt") == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir,
				 names[i]->d_name);
			load(&v, path);
			check(&v, c);
			count++;
		}
		free(names[i]);
	}
	free(names);
	assert_true(count >= VECTORS_MIN);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(run_port, (void *)&fl_crypto_openssl),
		cmocka_unit_test_prestate(run_port, (void *)&fl_crypto_mbedtls),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
