/*
 * test_file_store.c -- fl_file_store, the agent's store port over a file:
 * round trip, nothing saved yet, a blob larger than the caller's buffer, a
 * torn PATH.tmp left by a crash, a directory the agent may not write
 * (for real when not root; through the syscall table always), every
 * system call of save() failing in turn (the old blob, or the new one
 * once the rename has landed, is what load returns, and no PATH.tmp is
 * left behind), EINTR and short transfers, and bad arguments.
 *
 * Every file lives in a mkdtemp directory removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fl/agent_linux.h"
#include "fl/err.h"

static char tmpdir[256];

static int rm_tree(const char *dir)
{
	char p[512];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	return rmdir(dir);
}

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/fl-file-store-XXXXXX",
		 base != NULL && base[0] != '\0' ? base : "/tmp");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	chmod(tmpdir, 0700);
	return rm_tree(tmpdir);
}

static void path_of(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", tmpdir, name);
}

static int store_save(struct fl_file_store *st, const void *buf, size_t len)
{
	return fl_file_store_ops.save(st, buf, len);
}

static int store_load(struct fl_file_store *st, void *buf, size_t cap,
		      size_t *len)
{
	return fl_file_store_ops.load(st, buf, cap, len);
}

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 7);
}

static void test_file_store__round_trip(void **state)
{
	struct fl_file_store st;
	uint8_t a[700], b[800];
	size_t len = 0;
	char p[512];

	(void)state;
	path_of(p, sizeof(p), "round.state");
	assert_int_equal(fl_file_store_init(&st, p), 0);
	fill(a, sizeof(a), 1);
	assert_int_equal(store_save(&st, a, sizeof(a)), 0);
	assert_int_equal(store_load(&st, b, sizeof(b), &len), 0);
	assert_int_equal(len, sizeof(a));
	assert_memory_equal(a, b, sizeof(a));
	/* A shorter blob replaces it whole. */
	fill(a, 10, 9);
	assert_int_equal(store_save(&st, a, 10), 0);
	assert_int_equal(store_load(&st, b, sizeof(b), &len), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(a, b, 10);
	/* Empty blob. */
	assert_int_equal(store_save(&st, a, 0), 0);
	assert_int_equal(store_load(&st, b, sizeof(b), &len), 0);
	assert_int_equal(len, 0);
	/* No temporary file is left. */
	strcat(p, ".tmp");
	assert_int_equal(access(p, F_OK), -1);
}

static void test_file_store__nothing_saved_is_enoent(void **state)
{
	struct fl_file_store st;
	uint8_t b[16];
	size_t len = 99;
	char p[512];

	(void)state;
	path_of(p, sizeof(p), "missing.state");
	assert_int_equal(fl_file_store_init(&st, p), 0);
	assert_int_equal(store_load(&st, b, sizeof(b), &len), FL_ENOENT);
	assert_int_equal(len, 0);
}

static void test_file_store__larger_than_cap_is_etoobig(void **state)
{
	struct fl_file_store st;
	uint8_t a[100], b[100];
	size_t len = 0;
	char p[512];

	(void)state;
	path_of(p, sizeof(p), "big.state");
	assert_int_equal(fl_file_store_init(&st, p), 0);
	fill(a, sizeof(a), 3);
	assert_int_equal(store_save(&st, a, sizeof(a)), 0);
	assert_int_equal(store_load(&st, b, 99, &len), FL_ETOOBIG);
	assert_int_equal(store_load(&st, b, 100, &len), 0);
	assert_int_equal(len, 100);
	assert_memory_equal(a, b, 100);
}

static void test_file_store__stale_tmp_is_ignored(void **state)
{
	struct fl_file_store st;
	uint8_t a[64], b[64];
	size_t len = 0;
	char p[512], t[520];
	FILE *f;

	(void)state;
	path_of(p, sizeof(p), "torn.state");
	snprintf(t, sizeof(t), "%s.tmp", p);
	assert_int_equal(fl_file_store_init(&st, p), 0);
	fill(a, sizeof(a), 5);
	assert_int_equal(store_save(&st, a, sizeof(a)), 0);
	/* A crash in the middle of the next save left half a blob. */
	f = fopen(t, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite("garbage", 1, 7, f), 7);
	fclose(f);
	assert_int_equal(store_load(&st, b, sizeof(b), &len), 0);
	assert_int_equal(len, sizeof(a));
	assert_memory_equal(a, b, sizeof(a));
	/* The next save replaces it. */
	fill(a, sizeof(a), 6);
	assert_int_equal(store_save(&st, a, 20), 0);
	assert_int_equal(access(t, F_OK), -1);
	assert_int_equal(store_load(&st, b, sizeof(b), &len), 0);
	assert_int_equal(len, 20);
	assert_memory_equal(a, b, 20);
}

/* ---- a syscall table that fails on demand ------------------------------ */

enum call { C_OPEN, C_CLOSE, C_READ, C_WRITE, C_FSYNC, C_RENAME, C_UNLINK };

struct fake {
	int fail_at;	/* fail the Nth call (from 1); 0 never */
	int fail_errno; /* with this errno */
	int n;		/* calls so far */
	int fail_kind;	/* -1: any; else only calls of this kind count */
	bool is_eintr_once;
	bool is_short;	      /* one byte per read or write */
	bool is_readonly_dir; /* O_CREAT fails with EACCES */
	int eintrs;
	int unlinks;
};

static bool fails(struct fake *f, int kind)
{
	if (f->fail_kind >= 0 && f->fail_kind != kind)
		return false;
	f->n++;
	if (f->fail_at != 0 && f->n == f->fail_at) {
		errno = f->fail_errno;
		return true;
	}
	return false;
}

static int f_open(void *ctx, const char *path, int flags, unsigned mode)
{
	struct fake *f = ctx;

	if (fails(f, C_OPEN))
		return -1;
	if (f->is_readonly_dir && (flags & O_CREAT)) {
		errno = EACCES;
		return -1;
	}
	return open(path, flags, (mode_t)mode);
}

static int f_close(void *ctx, int fd)
{
	struct fake *f = ctx;
	int rc = close(fd);

	return fails(f, C_CLOSE) ? -1 : rc;
}

static ssize_t f_read(void *ctx, int fd, void *buf, size_t len)
{
	struct fake *f = ctx;

	if (f->is_eintr_once && f->eintrs++ == 0) {
		errno = EINTR;
		return -1;
	}
	if (fails(f, C_READ))
		return -1;
	return read(fd, buf, f->is_short && len > 1 ? 1 : len);
}

static ssize_t f_write(void *ctx, int fd, const void *buf, size_t len)
{
	struct fake *f = ctx;

	if (f->is_eintr_once && f->eintrs++ == 0) {
		errno = EINTR;
		return -1;
	}
	if (fails(f, C_WRITE))
		return -1;
	return write(fd, buf, f->is_short && len > 1 ? 1 : len);
}

static int f_fsync(void *ctx, int fd)
{
	struct fake *f = ctx;

	if (fails(f, C_FSYNC))
		return -1;
	return fsync(fd);
}

static int f_rename(void *ctx, const char *from, const char *to)
{
	struct fake *f = ctx;

	if (fails(f, C_RENAME))
		return -1;
	return rename(from, to);
}

static int f_unlink(void *ctx, const char *path)
{
	struct fake *f = ctx;

	f->unlinks++;
	return unlink(path);
}

static struct fake fk;
static const struct fl_file_store_sys fake_sys = {
	FL_FILE_STORE_SYS_VERSION,
	&fk,
	f_open,
	f_close,
	f_read,
	f_write,
	f_fsync,
	f_rename,
	f_unlink,
};

static void fake_reset(void)
{
	memset(&fk, 0, sizeof(fk));
	fk.fail_kind = -1;
	fk.fail_errno = EIO;
}

/* save() makes, in order: open tmp, write, fsync, close, rename, open
 * dir, fsync dir, close dir. Failing each of the first five leaves the old
 * blob (and no tmp); failing the directory's open or fsync keeps the new
 * one but says FL_EIO, since a power cut could still undo the rename; the
 * directory's close does not matter once it is synced. */
static void test_file_store__every_failing_call_of_save(void **state)
{
	struct fl_file_store st;
	uint8_t old_blob[50], new_blob[70], b[100];
	size_t len = 0;
	char p[512], t[520];

	(void)state;
	path_of(p, sizeof(p), "fail.state");
	snprintf(t, sizeof(t), "%s.tmp", p);
	fill(old_blob, sizeof(old_blob), 11);
	fill(new_blob, sizeof(new_blob), 12);
	for (int at = 1; at <= 7; at++) {
		fake_reset();
		assert_int_equal(fl_file_store_init_sys(&st, p, &fake_sys), 0);
		assert_int_equal(store_save(&st, old_blob, sizeof(old_blob)),
				 0);
		fake_reset();
		fk.fail_at = at;
		assert_int_equal(store_save(&st, new_blob, sizeof(new_blob)),
				 FL_EIO);
		fake_reset();
		assert_int_equal(store_load(&st, b, sizeof(b), &len), 0);
		if (at <= 5) {
			assert_int_equal(len, sizeof(old_blob));
			assert_memory_equal(b, old_blob, sizeof(old_blob));
		} else {
			assert_int_equal(len, sizeof(new_blob));
			assert_memory_equal(b, new_blob, sizeof(new_blob));
		}
		assert_int_equal(access(t, F_OK), -1);
	}
	fake_reset();
	fk.fail_at = 8;
	assert_int_equal(store_save(&st, new_blob, sizeof(new_blob)), 0);
}

static void test_file_store__failing_read_is_eio(void **state)
{
	struct fl_file_store st;
	uint8_t a[30], b[30];
	size_t len = 0;
	char p[512];

	(void)state;
	path_of(p, sizeof(p), "readfail.state");
	fake_reset();
	assert_int_equal(fl_file_store_init_sys(&st, p, &fake_sys), 0);
	fill(a, sizeof(a), 2);
	assert_int_equal(store_save(&st, a, sizeof(a)), 0);
	fake_reset();
	fk.fail_kind = C_READ;
	fk.fail_at = 1;
	assert_int_equal(store_load(&st, b, sizeof(b), &len), FL_EIO);
	fake_reset();
	fk.fail_kind = C_OPEN;
	fk.fail_at = 1;
	fk.fail_errno = EACCES;
	assert_int_equal(store_load(&st, b, sizeof(b), &len), FL_EIO);
}

static void test_file_store__eintr_and_short_transfers(void **state)
{
	struct fl_file_store st;
	uint8_t a[300], b[300];
	size_t len = 0;
	char p[512];

	(void)state;
	path_of(p, sizeof(p), "short.state");
	fake_reset();
	fk.is_eintr_once = true;
	fk.is_short = true;
	assert_int_equal(fl_file_store_init_sys(&st, p, &fake_sys), 0);
	fill(a, sizeof(a), 4);
	assert_int_equal(store_save(&st, a, sizeof(a)), 0);
	fk.eintrs = 0;
	assert_int_equal(store_load(&st, b, sizeof(b), &len), 0);
	assert_int_equal(len, sizeof(a));
	assert_memory_equal(a, b, sizeof(a));
	assert_true(fk.eintrs >= 1);
}

/* A directory the agent may not write: save fails, the old blob stays. */
static void test_file_store__read_only_dir_keeps_old_blob(void **state)
{
	struct fl_file_store st;
	uint8_t a[40], c[40], b[40];
	size_t len = 0;
	char p[512];

	(void)state;
	path_of(p, sizeof(p), "ro.state");
	fill(a, sizeof(a), 7);
	fill(c, sizeof(c), 8);
	assert_int_equal(fl_file_store_init(&st, p), 0);
	assert_int_equal(store_save(&st, a, sizeof(a)), 0);
	if (geteuid() != 0) {
		assert_int_equal(chmod(tmpdir, 0500), 0);
		assert_int_equal(store_save(&st, c, sizeof(c)), FL_EIO);
		assert_int_equal(chmod(tmpdir, 0700), 0);
	} else {
		/* root writes anywhere: the table says what a read-only
		 * directory would. */
		print_message("running as root: read-only directory "
			      "simulated through the syscall table\n");
	}
	fake_reset();
	fk.is_readonly_dir = true;
	assert_int_equal(fl_file_store_init_sys(&st, p, &fake_sys), 0);
	assert_int_equal(store_save(&st, c, sizeof(c)), FL_EIO);
	assert_int_equal(fl_file_store_init(&st, p), 0);
	assert_int_equal(store_load(&st, b, sizeof(b), &len), 0);
	assert_int_equal(len, sizeof(a));
	assert_memory_equal(a, b, sizeof(a));
}

static void test_file_store__bad_arguments(void **state)
{
	struct fl_file_store st;
	struct fl_file_store_sys bad = fake_sys;
	static char longp[FL_FILE_STORE_PATH_MAX + 8];

	(void)state;
	assert_int_equal(fl_file_store_init(&st, ""), FL_EINVAL);
	assert_int_equal(fl_file_store_init(&st, NULL), FL_EINVAL);
	assert_int_equal(fl_file_store_init(NULL, "x"), FL_EINVAL);
	assert_int_equal(fl_file_store_init(&st, "/tmp/dir/"), FL_EINVAL);
	memset(longp, 'a', sizeof(longp) - 1);
	assert_int_equal(fl_file_store_init(&st, longp), FL_EINVAL);
	/* PATH.tmp must fit too. */
	longp[FL_FILE_STORE_PATH_MAX - 4] = '\0';
	assert_int_equal(fl_file_store_init(&st, longp), FL_EINVAL);
	longp[FL_FILE_STORE_PATH_MAX - 5] = '\0';
	assert_int_equal(fl_file_store_init(&st, longp), 0);
	bad.version = 99;
	assert_int_equal(fl_file_store_init_sys(&st, "x", &bad), FL_EINVAL);
	assert_string_equal(fl_file_store_ops.name, "file");
	assert_int_equal(fl_file_store_ops.version, FL_AGENT_PORT_VERSION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_store__round_trip),
		cmocka_unit_test(test_file_store__nothing_saved_is_enoent),
		cmocka_unit_test(test_file_store__larger_than_cap_is_etoobig),
		cmocka_unit_test(test_file_store__stale_tmp_is_ignored),
		cmocka_unit_test(test_file_store__every_failing_call_of_save),
		cmocka_unit_test(test_file_store__failing_read_is_eio),
		cmocka_unit_test(test_file_store__eintr_and_short_transfers),
		cmocka_unit_test(test_file_store__read_only_dir_keeps_old_blob),
		cmocka_unit_test(test_file_store__bad_arguments),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
