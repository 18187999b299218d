/*
 * auth.h -- fleetd's operators: API tokens, their roles, and what each
 * role may do (docs/api.md, "Authentication and roles").
 *
 * A token is the text "flt_" NAME "_" SECRET, SECRET being 64 lower-case
 * hex digits of a 256-bit random number. It is shown once, when it is
 * made; the store keeps its name, its role and the SHA-256 of the secret's
 * 32 bytes, never the secret. A request presents the token as
 * `Authorization: Bearer TOKEN`: the name finds the stored hash, which is
 * compared with the presented secret's in constant time.
 *
 * Roles (not a ladder: operating and approving are separate duties):
 *
 *   permission                                   viewer operator approver admin
 *   READ    every GET and HEAD, /metrics            x      x        x      x
 *   OPERATE start, pause, resume, cancel,                  x               x
 *           rollback, labels, artifact uploads
 *   APPROVE approve a stage or a hold                               x      x
 *   ADMIN   the token list                                                 x
 *
 * Not thread-safe in any way that matters: plain functions over a store
 * used by one thread.
 */
#ifndef FL_FLEETD_AUTH_H
#define FL_FLEETD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl/store.h"

enum fl_role {
	FL_ROLE_NONE = 0,
	FL_ROLE_VIEWER = 1,
	FL_ROLE_OPERATOR = 2,
	FL_ROLE_APPROVER = 3,
	FL_ROLE_ADMIN = 4,
};

enum fl_perm {
	FL_PERM_READ = 1,
	FL_PERM_OPERATE = 2,
	FL_PERM_APPROVE = 3,
	FL_PERM_ADMIN = 4,
};

#define FL_TOKEN_PREFIX	      "flt_"
#define FL_TOKEN_SECRET_BYTES 32
#define FL_TOKEN_NAME_MAX     FL_STORE_TOKEN_NAME_MAX /* 32 chars + NUL */
/* "flt_" NAME "_" 64 hex digits, NUL */
#define FL_TOKEN_TEXT_MAX                                                      \
	(sizeof(FL_TOKEN_PREFIX) - 1 + FL_TOKEN_NAME_MAX +                     \
	 2 * FL_TOKEN_SECRET_BYTES + 1)
/* The token file fleetd writes at its first start, in its data folder. */
#define FL_TOKEN_ADMIN_FILE "admin.token"
#define FL_TOKEN_ADMIN_NAME "admin"

/* "viewer", "operator", "approver", "admin"; "none" for anything else. */
const char *fl_role_name(int role);
/* The role a word names, FL_ROLE_NONE if none. */
int fl_role_parse(const char *s);
/* Does role have permission perm? */
bool fl_role_allows(int role, int perm);
/* The role to name in a refusal: the one role made for perm (admin has
 * every permission too). */
int fl_perm_role(int perm);

/* A token name: 1..32 of [a-z0-9._-], starting with a letter or a digit. */
bool fl_token_name_ok(const char *name);

/*
 * Makes a token: a secret from the system's random source, its hash stored
 * with name and role. text (FL_TOKEN_TEXT_MAX) receives the token, to be
 * shown once. Returns 0, FL_EINVAL (a bad name or role), FL_EBUSY (the
 * name exists, in force or revoked), FL_EIO (no random bytes), a store
 * error (the store's message says which).
 */
int fl_token_create(struct fl_store *st, const char *name, int role,
		    int64_t now_s, char *text, size_t text_size);

enum fl_token_verdict {
	FL_TOKEN_OK = 0,
	FL_TOKEN_MALFORMED = 1, /* not "flt_NAME_SECRET" */
	FL_TOKEN_UNKNOWN = 2,	/* no such name, or not its secret */
	FL_TOKEN_REVOKED = 3,	/* the right secret of a revoked token */
};

/*
 * Checks a presented token (text[0..len)): *verdict says what it is; when
 * FL_TOKEN_OK, *out is the stored token (name, role) and *role its role.
 * Returns 0, or a store error (then *verdict is not set).
 */
int fl_token_check(struct fl_store *st, const char *text, size_t len,
		   struct fl_store_token *out, int *role, int *verdict);

/* The bearer token of an Authorization header's value ("Bearer TOKEN",
 * the scheme in any case, spaces around): a pointer into value and its
 * length; NULL when it is not a bearer token. */
const char *fl_auth_bearer(const char *value, size_t *len);

#endif
