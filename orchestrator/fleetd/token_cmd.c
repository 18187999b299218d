/*
 * token_cmd.c -- fleetd's API tokens from the command line:
 *
 *   fleetd token create NAME --role viewer|operator|approver|admin
 *   fleetd token list
 *   fleetd token revoke NAME
 *
 * each with fleetd's own [--data DIR] [--config FILE]. They work on the
 * store of the data folder directly (SQLite in WAL mode lets them write
 * while fleetd runs; fleetd reads a token at every request, so a new or
 * revoked token counts from the next request). `create` prints the token
 * once on stdout; the store keeps only its hash (auth.h).
 *
 * And the first start's admin token (fld_token_bootstrap): with no token
 * in the store, fleetd makes "admin" and writes it to DATA/admin.token,
 * where fleetctl on the same machine finds it, so that fleetd with no
 * flags works at once. The file is written to a temporary name, synced
 * and renamed inside the transaction that adds the token, which commits
 * only after the rename: a crash leaves both or neither (a file whose
 * token did not commit is replaced at the next start, which finds no
 * token again).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "fl/bytes.h"
#include "fl/err.h"
#include "token_cmd.h"

#define EXIT_USAGE 2

static const char usage_text[] =
	"usage: fleetd token create NAME --role "
	"viewer|operator|approver|admin\n"
	"       fleetd token list\n"
	"       fleetd token revoke NAME\n"
	"  each also takes fleetd's --data DIR and --config FILE\n"
	"  NAME: 1..32 of a-z 0-9 . _ -, starting with a letter or digit;\n"
	"  it is the `who` of every action done with the token\n";

static int count_cb(void *ctx, const struct fl_store_token *t)
{
	(void)t;
	++*(unsigned *)ctx;
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -1;
	if (fsync(fd) != 0)
		rc = -1;
	close(fd);
	return rc;
}

/* Writes text and a newline to path (mode 0600) through path.tmp. */
static int write_secret_file(const char *dir, const char *path,
			     const char *text, char *msg, size_t cap)
{
	char tmp[PATH_MAX + 8];
	size_t len = strlen(text);
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(msg, cap, "%s: %s", tmp, strerror(errno));
		return FL_EIO;
	}
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) != 0) {
		snprintf(msg, cap, "%s: %s", tmp, strerror(errno));
		rc = FL_EIO;
	}
	if (close(fd) != 0 && rc == 0) {
		snprintf(msg, cap, "%s: %s", tmp, strerror(errno));
		rc = FL_EIO;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		snprintf(msg, cap, "%s: %s", path, strerror(errno));
		rc = FL_EIO;
	}
	if (rc == 0 && fsync_dir(dir) != 0) {
		snprintf(msg, cap, "%s: %s", dir, strerror(errno));
		rc = FL_EIO;
	}
	if (rc != 0)
		(void)unlink(tmp);
	return rc;
}

int fld_token_bootstrap(struct fl_store *st, const char *data_dir,
			int64_t now_s, int *made, char *msg, size_t cap)
{
	char text[FL_TOKEN_TEXT_MAX], path[PATH_MAX];
	unsigned n = 0;
	int rc;

	*made = 0;
	msg[0] = '\0';
	rc = fl_store_token_list(st, "", 1, count_cb, &n);
	if (rc != 0) {
		snprintf(msg, cap, "store: %s", fl_store_errmsg(st));
		return rc;
	}
	if (n > 0)
		return 0;
	if (snprintf(path, sizeof(path), "%s/" FL_TOKEN_ADMIN_FILE, data_dir) >=
	    (int)sizeof(path)) {
		snprintf(msg, cap, "%s: path too long", data_dir);
		return FL_EINVAL;
	}
	rc = fl_store_begin(st);
	if (rc == 0)
		rc = fl_token_create(st, FL_TOKEN_ADMIN_NAME, FL_ROLE_ADMIN,
				     now_s, text, sizeof(text));
	if (rc != 0)
		snprintf(msg, cap, "store: %s",
			 rc == FL_EIO && fl_store_errmsg(st)[0] == '\0'
				 ? "no random bytes"
				 : fl_store_errmsg(st));
	if (rc == 0)
		rc = write_secret_file(data_dir, path, text, msg, cap);
	memset(text, 0, sizeof(text));
	if (rc == 0) {
		rc = fl_store_commit(st);
		if (rc != 0)
			snprintf(msg, cap, "store: %s", fl_store_errmsg(st));
	} else if (st->in_txn) {
		(void)fl_store_rollback(st);
	}
	if (rc == 0)
		*made = 1;
	return rc;
}

/* ---- the command -------------------------------------------------------- */

static int usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "fleetd token: %s\n", why);
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fleetd token: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static void show_time(char *out, size_t cap, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(out, cap, "-");
	else
		strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct list_walk {
	unsigned n;
	char last[FL_STORE_TOKEN_NAME_MAX];
};

static int list_cb(void *ctx, const struct fl_store_token *t)
{
	struct list_walk *w = ctx;
	char created[32], revoked[32];

	show_time(created, sizeof(created), t->created_at_s);
	show_time(revoked, sizeof(revoked), t->revoked_at_s);
	printf("%-32s  %-8s  %-20s  %s\n", t->name, t->role, created, revoked);
	w->n++;
	(void)fl_strlcpy(w->last, t->name, sizeof(w->last));
	return 0;
}

static int cmd_list(struct fl_store *st)
{
	struct list_walk w;
	char after[FL_STORE_TOKEN_NAME_MAX] = "";
	int rc;

	printf("%-32s  %-8s  %-20s  %s\n", "NAME", "ROLE", "CREATED",
	       "REVOKED");
	for (;;) {
		memset(&w, 0, sizeof(w));
		rc = fl_store_token_list(st, after, 1000, list_cb, &w);
		if (rc != 0)
			return fail("store: %s", fl_store_errmsg(st));
		if (w.n < 1000)
			break;
		memcpy(after, w.last, sizeof(after));
	}
	return fflush(stdout) == 0 ? 0 : fail("cannot write the list");
}

static int cmd_create(struct fl_store *st, const char *name, int role)
{
	char text[FL_TOKEN_TEXT_MAX];
	int rc = fl_token_create(st, name, role, (int64_t)time(NULL), text,
				 sizeof(text));

	if (rc == FL_EBUSY)
		return fail("a token named '%s' exists (names are never "
			    "reused, revoked ones included)",
			    name);
	if (rc == FL_EIO && fl_store_errmsg(st)[0] == '\0')
		return fail("no random bytes from the system");
	if (rc != 0)
		return fail("store: %s", fl_store_errmsg(st));
	printf("%s\n", text);
	memset(text, 0, sizeof(text));
	if (fflush(stdout) != 0)
		return fail("cannot write the token (it was made: revoke "
			    "'%s' and make another)",
			    name);
	fprintf(stderr,
		"fleetd token: '%s' (%s) made; it is shown only now (fleetd "
		"keeps a hash of it)\n",
		name, fl_role_name(role));
	return 0;
}

static int cmd_revoke(struct fl_store *st, const char *name)
{
	struct fl_store_token t;
	char when[32];
	int rc = fl_store_token_get(st, name, &t);

	if (rc == FL_ENOENT)
		return fail("no token named '%s'", name);
	if (rc != 0)
		return fail("store: %s", fl_store_errmsg(st));
	if (t.revoked_at_s >= 0) {
		show_time(when, sizeof(when), t.revoked_at_s);
		fprintf(stderr, "fleetd token: '%s' was revoked already (%s)\n",
			name, when);
		return 0;
	}
	rc = fl_store_token_revoke(st, name, (int64_t)time(NULL));
	if (rc != 0)
		return fail("store: %s", fl_store_errmsg(st));
	fprintf(stderr,
		"fleetd token: '%s' revoked; fleetd refuses it from the next "
		"request\n",
		name);
	return 0;
}

int fld_token_main(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL, *name = NULL,
		   *role_s = NULL, *data = NULL, *config = NULL;
	char dir[PATH_MAX], db[PATH_MAX + 16];
	struct fl_store st;
	struct stat sb;
	int role = FL_ROLE_NONE, rc;

	if (verb == NULL)
		return usage("create, list or revoke?");
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (int i = 2; i < argc; i++) {
		const char **dst = NULL;

		if (strcmp(argv[i], "--role") == 0)
			dst = &role_s;
		else if (strcmp(argv[i], "--data") == 0)
			dst = &data;
		else if (strcmp(argv[i], "--config") == 0)
			dst = &config;
		else if (argv[i][0] == '-')
			return usage("unknown option");
		else if (name == NULL) {
			name = argv[i];
			continue;
		} else
			return usage("one NAME only");
		if (i + 1 >= argc || argv[i + 1][0] == '\0')
			return usage("an option needs a value");
		*dst = argv[++i];
	}
	if (strcmp(verb, "create") == 0) {
		if (name == NULL || role_s == NULL)
			return usage("create needs NAME and --role");
		role = fl_role_parse(role_s);
		if (role == FL_ROLE_NONE)
			return usage("--role: viewer, operator, approver or "
				     "admin");
	} else if (strcmp(verb, "revoke") == 0) {
		if (name == NULL || role_s != NULL)
			return usage("revoke takes NAME only");
	} else if (strcmp(verb, "list") == 0) {
		if (name != NULL || role_s != NULL)
			return usage("list takes no NAME");
	} else {
		return usage("create, list or revoke?");
	}
	if (name != NULL && !fl_token_name_ok(name))
		return usage("NAME: 1..32 of a-z 0-9 . _ -, starting with a "
			     "letter or digit");

	if (fld_data_dir(data, config, dir, sizeof(dir), "fleetd token") != 0)
		return 1;
	snprintf(db, sizeof(db), "%s/fleet.db", dir);
	if (stat(db, &sb) != 0)
		return fail("no store at %s: has fleetd run with this data "
			    "folder? (--data DIR)",
			    db);
	rc = fl_store_open_sqlite(&st, db, NULL);
	if (rc != 0)
		return fail("store %s: %s", db, fl_store_errmsg(&st));
	if (strcmp(verb, "create") == 0)
		rc = cmd_create(&st, name, role);
	else if (strcmp(verb, "revoke") == 0)
		rc = cmd_revoke(&st, name);
	else
		rc = cmd_list(&st);
	fl_store_close(&st);
	return rc;
}
