/*
 * test_auth.c -- fleetd's API tokens and roles (orchestrator/fleetd/
 * auth.c): the role matrix of docs/api.md checked cell by cell, names,
 * the bearer token of an Authorization header, and tokens made and
 * checked against a real SQLite store in a temporary folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "fl/err.h"
#include "fl/store.h"

#define T0 1795436000

/* ---- the role matrix ----------------------------------------------------- */

static void test_auth__role_matrix_cell_by_cell(void **state)
{
	/* rows: viewer, operator, approver, admin; columns: READ, OPERATE,
	 * APPROVE, ADMIN (docs/api.md, "Roles") */
	static const bool want[4][4] = {
		{true, false, false, false},
		{true, true, false, false},
		{true, false, true, false},
		{true, true, true, true},
	};

	(void)state;
	for (int r = FL_ROLE_VIEWER; r <= FL_ROLE_ADMIN; r++)
		for (int p = FL_PERM_READ; p <= FL_PERM_ADMIN; p++)
			if (fl_role_allows(r, p) != want[r - 1][p - 1])
				fail_msg("role %s, permission %d: %d",
					 fl_role_name(r), p,
					 fl_role_allows(r, p));
	/* no role, or an unknown one, may do nothing */
	for (int p = FL_PERM_READ; p <= FL_PERM_ADMIN; p++) {
		assert_false(fl_role_allows(FL_ROLE_NONE, p));
		assert_false(fl_role_allows(99, p));
	}
	assert_false(fl_role_allows(FL_ROLE_ADMIN, 0));
	assert_false(fl_role_allows(FL_ROLE_ADMIN, 5));
	/* the role a refusal names */
	assert_int_equal(fl_perm_role(FL_PERM_READ), FL_ROLE_VIEWER);
	assert_int_equal(fl_perm_role(FL_PERM_OPERATE), FL_ROLE_OPERATOR);
	assert_int_equal(fl_perm_role(FL_PERM_APPROVE), FL_ROLE_APPROVER);
	assert_int_equal(fl_perm_role(FL_PERM_ADMIN), FL_ROLE_ADMIN);
}

static void test_auth__role_names(void **state)
{
	static const char *const names[] = {"viewer", "operator", "approver",
					    "admin"};

	(void)state;
	for (int r = FL_ROLE_VIEWER; r <= FL_ROLE_ADMIN; r++) {
		assert_string_equal(fl_role_name(r), names[r - 1]);
		assert_int_equal(fl_role_parse(names[r - 1]), r);
	}
	assert_string_equal(fl_role_name(0), "none");
	assert_string_equal(fl_role_name(7), "none");
	assert_int_equal(fl_role_parse("Admin"), FL_ROLE_NONE);
	assert_int_equal(fl_role_parse("none"), FL_ROLE_NONE);
	assert_int_equal(fl_role_parse(""), FL_ROLE_NONE);
	assert_int_equal(fl_role_parse(NULL), FL_ROLE_NONE);
}

static void test_auth__token_names(void **state)
{
	(void)state;
	assert_true(fl_token_name_ok("admin"));
	assert_true(fl_token_name_ok("ops-1"));
	assert_true(fl_token_name_ok("ci.release_bot"));
	assert_true(fl_token_name_ok("0"));
	assert_true(fl_token_name_ok("abcdefghijklmnopqrstuvwxyz012345"));
	assert_false(fl_token_name_ok("abcdefghijklmnopqrstuvwxyz0123456"));
	assert_false(fl_token_name_ok(""));
	assert_false(fl_token_name_ok(NULL));
	assert_false(fl_token_name_ok("-x"));
	assert_false(fl_token_name_ok(".x"));
	assert_false(fl_token_name_ok("_x"));
	assert_false(fl_token_name_ok("Ops"));
	assert_false(fl_token_name_ok("a b"));
	assert_false(fl_token_name_ok("a/b"));
	assert_false(fl_token_name_ok("a'b"));
}

static void test_auth__bearer_header(void **state)
{
	size_t n = 0;
	const char *t;

	(void)state;
	t = fl_auth_bearer("Bearer flt_a_00", &n);
	assert_non_null(t);
	assert_int_equal(n, 8);
	assert_memory_equal(t, "flt_a_00", 8);
	t = fl_auth_bearer("  bearer \t abc  ", &n);
	assert_non_null(t);
	assert_int_equal(n, 3);
	assert_memory_equal(t, "abc", 3);
	assert_null(fl_auth_bearer("Basic dXNlcg==", &n));
	assert_null(fl_auth_bearer("Bearer", &n));
	assert_null(fl_auth_bearer("Bearer   ", &n));
	assert_null(fl_auth_bearer("Bearerabc", &n));
	assert_null(fl_auth_bearer("Bearer a b", &n));
	assert_null(fl_auth_bearer("", &n));
	assert_null(fl_auth_bearer(NULL, &n));
}

/* ---- tokens in a store --------------------------------------------------- */

struct fx {
	char dir[64];
	char db[128];
	struct fl_store st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/fl-auth-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/fleet.db", f->dir);
	if (fl_store_open_sqlite(&f->st, f->db, NULL) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[200];

	fl_store_close(&f->st);
	unlink(f->db);
	snprintf(p, sizeof(p), "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->db);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The verdict on text (role in *role). */
static int check(struct fx *f, const char *text, int *role)
{
	struct fl_store_token t;
	int verdict = -1, r = -1;

	assert_int_equal(
		fl_token_check(&f->st, text, strlen(text), &t, &r, &verdict),
		0);
	if (role != NULL)
		*role = r;
	if (verdict == FL_TOKEN_OK)
		assert_int_equal(r, fl_role_parse(t.role));
	else
		assert_int_equal(r, FL_ROLE_NONE);
	return verdict;
}

static void test_auth__tokens_made_and_checked(void **state)
{
	struct fx *f = *state;
	char ops[FL_TOKEN_TEXT_MAX], other[FL_TOKEN_TEXT_MAX],
		bad[FL_TOKEN_TEXT_MAX + 8], spare[FL_TOKEN_TEXT_MAX];
	struct fl_store_token t;
	int role = 0;

	assert_int_equal(fl_token_create(&f->st, "ops-1", FL_ROLE_OPERATOR, T0,
					 ops, sizeof(ops)),
			 0);
	/* "flt_" NAME "_" 64 lower-case hex digits */
	assert_int_equal(strlen(ops), 4 + 5 + 1 + 64);
	assert_memory_equal(ops, "flt_ops-1_", 10);
	assert_int_equal(strspn(ops + 10, "0123456789abcdef"), 64);
	/* the store has its hash, never the secret */
	assert_int_equal(fl_store_token_get(&f->st, "ops-1", &t), 0);
	assert_string_equal(t.role, "operator");
	assert_int_equal(t.created_at_s, T0);
	assert_null(strstr(ops, t.hash));
	assert_int_not_equal(memcmp(ops + 10, t.hash, 64), 0);

	assert_int_equal(check(f, ops, &role), FL_TOKEN_OK);
	assert_int_equal(role, FL_ROLE_OPERATOR);
	/* two tokens never share a secret */
	assert_int_equal(fl_token_create(&f->st, "ops-2", FL_ROLE_OPERATOR, T0,
					 other, sizeof(other)),
			 0);
	assert_int_not_equal(strcmp(ops + 10, other + 10), 0);
	/* another token's secret under this name, one digit changed */
	snprintf(bad, sizeof(bad), "flt_ops-1_%s", other + 10);
	assert_int_equal(check(f, bad, NULL), FL_TOKEN_UNKNOWN);
	snprintf(bad, sizeof(bad), "%s", ops);
	bad[20] = bad[20] == 'a' ? 'b' : 'a';
	assert_int_equal(check(f, bad, NULL), FL_TOKEN_UNKNOWN);
	snprintf(bad, sizeof(bad), "flt_ghost_%s", ops + 10);
	assert_int_equal(check(f, bad, NULL), FL_TOKEN_UNKNOWN);
	/* malformed */
	assert_int_equal(check(f, "", NULL), FL_TOKEN_MALFORMED);
	assert_int_equal(check(f, "ops-1", NULL), FL_TOKEN_MALFORMED);
	assert_int_equal(check(f, ops + 4, NULL), FL_TOKEN_MALFORMED);
	snprintf(bad, sizeof(bad), "%s0", ops); /* 65 digits */
	assert_int_equal(check(f, bad, NULL), FL_TOKEN_MALFORMED);
	snprintf(bad, sizeof(bad), "%s", ops);
	bad[12] = 'A'; /* upper-case hex */
	assert_int_equal(check(f, bad, NULL), FL_TOKEN_MALFORMED);
	snprintf(bad, sizeof(bad), "flt__%s", ops + 10); /* no name */
	assert_int_equal(check(f, bad, NULL), FL_TOKEN_MALFORMED);

	/* names are never reused; bad arguments make nothing */
	assert_int_equal(fl_token_create(&f->st, "ops-1", FL_ROLE_VIEWER, T0,
					 spare, sizeof(spare)),
			 FL_EBUSY);
	assert_int_equal(fl_token_create(&f->st, "Ops", FL_ROLE_VIEWER, T0,
					 spare, sizeof(spare)),
			 FL_EINVAL);
	assert_int_equal(fl_token_create(&f->st, "x", FL_ROLE_NONE, T0, spare,
					 sizeof(spare)),
			 FL_EINVAL);
	assert_int_equal(
		fl_token_create(&f->st, "x", FL_ROLE_VIEWER, T0, spare, 10),
		FL_EINVAL);
	assert_int_equal(fl_store_token_get(&f->st, "x", &t), FL_ENOENT);

	/* revoked: refused, and said so only to the right secret */
	assert_int_equal(fl_store_token_revoke(&f->st, "ops-1", T0 + 60), 0);
	assert_int_equal(check(f, ops, NULL), FL_TOKEN_REVOKED);
	snprintf(bad, sizeof(bad), "flt_ops-1_%s", other + 10);
	assert_int_equal(check(f, bad, NULL), FL_TOKEN_UNKNOWN);
	assert_int_equal(check(f, other, NULL), FL_TOKEN_OK);
}

/* A role this fleetd does not know (a newer fleetd wrote it) is refused. */
static void test_auth__unknown_stored_role_is_refused(void **state)
{
	struct fx *f = *state;
	char text[FL_TOKEN_TEXT_MAX];

	assert_int_equal(fl_token_create(&f->st, "a", FL_ROLE_ADMIN, T0, text,
					 sizeof(text)),
			 0);
	assert_int_equal(check(f, text, NULL), FL_TOKEN_OK);
	/* the same hash under another role word */
	{
		struct fl_store_token t;

		assert_int_equal(fl_store_token_get(&f->st, "a", &t), 0);
		snprintf(t.name, sizeof(t.name), "b");
		snprintf(t.role, sizeof(t.role), "auditor");
		assert_int_equal(fl_store_token_add(&f->st, &t), 0);
	}
	text[4] = 'b';
	memmove(text + 5, text + 5, strlen(text + 5) + 1);
	assert_int_equal(check(f, text, NULL), FL_TOKEN_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth__role_matrix_cell_by_cell),
		cmocka_unit_test(test_auth__role_names),
		cmocka_unit_test(test_auth__token_names),
		cmocka_unit_test(test_auth__bearer_header),
		cmocka_unit_test_setup_teardown(
			test_auth__tokens_made_and_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_auth__unknown_stored_role_is_refused, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
