/*
 * test_flash_linux.c -- the Linux flash backends: a regular file (and,
 * through a fake fstat/ioctl, a block device), an MTD device simulated by
 * a fake that enforces erase-before-write and checks MEMERASE's arguments
 * (and a real /dev/mtd when one is present), failure of every system call
 * through the syscall table, and a file mapped as simulator memory.
 *
 * Every file lives in a mkdtemp directory removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mtd/mtd-user.h>

#include <cmocka.h>

#include "fl/err.h"
#include "fl/flash_linux.h"
#include "fl/flash_sim.h"

static char tmpdir[256];

static int group_setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/fl-flash-linux-XXXXXX",
		 base != NULL && base[0] != '\0' ? base : "/tmp");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	char p[512];
	struct dirent *e;
	DIR *d;

	(void)state;
	d = opendir(tmpdir);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		if (unlink(p) != 0)
			rmdir(p);
	}
	closedir(d);
	return rmdir(tmpdir);
}

static const char *tpath(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
	unlink(buf);
	return buf;
}

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31u + seed * 7u + 1u);
}

static int all_equal(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static void write_file(const char *path, size_t len, uint8_t v)
{
	uint8_t buf[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	memset(buf, v, sizeof(buf));
	while (len > 0) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		assert_int_equal(write(fd, buf, n), (ssize_t)n);
		len -= n;
	}
	assert_int_equal(close(fd), 0);
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

#define HAS(msg, s) assert_non_null(strstr((msg), (s)))

/* --- a syscall table that wraps the real one with faults ----------------- */

struct faulty {
	struct fl_flash_linux_sys sys; /* give &f.sys to open; ctx = &f */
	const struct fl_flash_linux_sys *real;
	int open_errno;
	int fstat_errno;
	int is_fake_stat; /* report fake_type and fake_size */
	unsigned fake_type;
	uint64_t fake_size;
	int blk_errno;
	uint64_t blk_size;
	size_t short_max;	/* cap each transfer (0: no cap) */
	int is_eintr_alternate; /* odd-numbered transfers fail with EINTR */
	int is_eintr_always;
	int is_pread_eof;
	int is_pwrite_zero;
	unsigned pread_fail_at; /* 1-based call that fails (0: none) */
	unsigned pwrite_fail_at;
	int io_errno;
	int fdatasync_errno;
	unsigned preads, pwrites, eintrs, fdatasyncs, closes;
};

static ssize_t cut(struct faulty *f, size_t *len, unsigned calls,
		   unsigned fail_at)
{
	if (f->is_eintr_always || (f->is_eintr_alternate && calls % 2 == 1)) {
		f->eintrs++;
		errno = EINTR;
		return -1;
	}
	if (fail_at != 0 && calls == fail_at) {
		errno = f->io_errno;
		return -1;
	}
	if (f->short_max != 0 && *len > f->short_max)
		*len = f->short_max;
	return 0;
}

static int f_open(void *ctx, const char *path, int flags, unsigned mode)
{
	struct faulty *f = ctx;

	if (f->open_errno != 0) {
		errno = f->open_errno;
		return -1;
	}
	return f->real->open(f->real->ctx, path, flags, mode);
}

static int f_close(void *ctx, int fd)
{
	struct faulty *f = ctx;

	f->closes++;
	return f->real->close(f->real->ctx, fd);
}

static int f_fstat(void *ctx, int fd, unsigned *type, uint64_t *size)
{
	struct faulty *f = ctx;

	if (f->fstat_errno != 0) {
		errno = f->fstat_errno;
		return -1;
	}
	if (f->is_fake_stat) {
		*type = f->fake_type;
		*size = f->fake_size;
		return 0;
	}
	return f->real->fstat(f->real->ctx, fd, type, size);
}

static ssize_t f_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
	struct faulty *f = ctx;

	if (cut(f, &len, ++f->preads, f->pread_fail_at) != 0)
		return -1;
	if (f->is_pread_eof)
		return 0;
	return f->real->pread(f->real->ctx, fd, buf, len, off);
}

static ssize_t f_pwrite(void *ctx, int fd, const void *buf, size_t len,
			uint64_t off)
{
	struct faulty *f = ctx;

	if (cut(f, &len, ++f->pwrites, f->pwrite_fail_at) != 0)
		return -1;
	if (f->is_pwrite_zero)
		return 0;
	return f->real->pwrite(f->real->ctx, fd, buf, len, off);
}

static int f_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct faulty *f = ctx;

	if (req == BLKGETSIZE64 && f->is_fake_stat) {
		if (f->blk_errno != 0) {
			errno = f->blk_errno;
			return -1;
		}
		memcpy(arg, &f->blk_size, sizeof(f->blk_size));
		return 0;
	}
	return f->real->ioctl(f->real->ctx, fd, req, arg);
}

static int f_fdatasync(void *ctx, int fd)
{
	struct faulty *f = ctx;

	f->fdatasyncs++;
	if (f->fdatasync_errno != 0) {
		errno = f->fdatasync_errno;
		return -1;
	}
	return f->real->fdatasync(f->real->ctx, fd);
}

static void faulty_init(struct faulty *f)
{
	memset(f, 0, sizeof(*f));
	f->real = fl_flash_linux_sys_default();
	f->sys.version = FL_FLASH_LINUX_SYS_VERSION;
	f->sys.ctx = f;
	f->sys.open = f_open;
	f->sys.close = f_close;
	f->sys.fstat = f_fstat;
	f->sys.pread = f_pread;
	f->sys.pwrite = f_pwrite;
	f->sys.ioctl = f_ioctl;
	f->sys.fdatasync = f_fdatasync;
	f->io_errno = EIO;
}

/* --- the file backend ----------------------------------------------------- */

static const struct fl_flash_geom geom_w16 = {0, 4096, 16, 0xFF};

static void test_flash_file__round_trip_through_area(void **state)
{
	struct fl_flash_linux_diag d;
	struct fl_flash fl;
	struct fl_area a;
	uint8_t pat[4096], buf[4096];
	char p[512];
	int fd;

	(void)state;
	tpath(p, sizeof(p), "rt.img");
	fill_pattern(pat, sizeof(pat), 1);
	assert_int_equal(fl_flash_file_open(&fl, p, &geom_w16, 8 * 4096, &d),
			 0);
	assert_string_equal(fl.ops->name, "file");
	assert_int_equal(fl.geom.size_bytes, 8 * 4096);
	assert_int_equal(fl.geom.write_bytes, 16);
	assert_int_equal(fl_area_init(&a, &fl, 4096, 4 * 4096), 0);
	assert_int_equal(fl_area_erase(&a, 0, 4 * 4096), 0);
	assert_int_equal(fl_area_write(&a, 4096, pat, sizeof(pat)), 0);
	assert_int_equal(fl_area_sync(&a), 0);
	assert_int_equal(fl_area_read(&a, 4096, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pat, sizeof(pat));
	assert_int_equal(fl_area_read(&a, 100, buf, 50), 0);
	assert_true(all_equal(buf, 50, 0xFF));
	fl_flash_linux_close(&fl);
	assert_null(fl.ops);

	/* The bytes are in the file at area offset + 4096. */
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), 2 * 4096),
			 (ssize_t)sizeof(buf));
	close(fd);
	assert_memory_equal(buf, pat, sizeof(pat));

	/* Reopened without a size: the file's size, and the data is there. */
	assert_int_equal(fl_flash_file_open(&fl, p, &geom_w16, 0, &d), 0);
	assert_int_equal(fl.geom.size_bytes, 8 * 4096);
	assert_int_equal(fl_area_init(&a, &fl, 4096, 4 * 4096), 0);
	assert_int_equal(fl_area_read(&a, 4096, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pat, sizeof(pat));
	fl_flash_linux_close(&fl);
}

static void test_flash_file__default_geometry_is_4k_nor(void **state)
{
	struct fl_flash fl;
	char p[512];

	(void)state;
	tpath(p, sizeof(p), "default.img");
	assert_int_equal(fl_flash_file_open(&fl, p, NULL, 3 * 4096, NULL), 0);
	assert_int_equal(fl.geom.erase_bytes, 4096);
	assert_int_equal(fl.geom.write_bytes, 1);
	assert_int_equal(fl.geom.erased_value, 0xFF);
	assert_int_equal(fl.geom.size_bytes, 3 * 4096);
	fl_flash_linux_close(&fl);
}

static void test_flash_file__erase_sets_erased_value(void **state)
{
	const struct fl_flash_geom g = {0, 4096, 1, 0x00};
	struct fl_flash fl;
	struct fl_area a;
	uint8_t pat[3 * 4096], buf[3 * 4096];
	char p[512];

	(void)state;
	tpath(p, sizeof(p), "erase.img");
	fill_pattern(pat, sizeof(pat), 2);
	write_file(p, 4 * 4096, 0x5A);
	assert_int_equal(fl_flash_file_open(&fl, p, &g, 0, NULL), 0);
	assert_int_equal(fl_area_init(&a, &fl, 0, 4 * 4096), 0);
	assert_int_equal(fl_area_write(&a, 0, pat, sizeof(pat)), 0);
	assert_int_equal(fl_area_erase(&a, 4096, 4096), 0);
	assert_int_equal(fl_area_read(&a, 0, buf, sizeof(buf)), 0);
	/* Only the erased unit changed, to the erased value. */
	assert_memory_equal(buf, pat, 4096);
	assert_true(all_equal(buf + 4096, 4096, 0x00));
	assert_memory_equal(buf + 8192, pat + 8192, 4096);
	assert_int_equal(fl_area_read(&a, 3 * 4096, buf, 4096), 0);
	assert_true(all_equal(buf, 4096, 0x5A));
	fl_flash_linux_close(&fl);
}

static void test_flash_file__erase_unit_larger_than_fill_buffer(void **state)
{
	const struct fl_flash_geom g = {0, 256 * 1024, 1, 0xA5};
	static uint8_t buf[256 * 1024];
	struct faulty f;
	struct fl_flash fl;
	struct fl_area a;
	char p[512];

	(void)state;
	tpath(p, sizeof(p), "big.img");
	faulty_init(&f);
	write_file(p, 2 * 256 * 1024, 0x00);
	assert_int_equal(fl_flash_file_open_sys(&fl, &f.sys, p, &g, 0, NULL),
			 0);
	assert_int_equal(fl_area_init(&a, &fl, 0, 2 * 256 * 1024), 0);
	f.pwrites = 0;
	assert_int_equal(fl_area_erase(&a, 256 * 1024, 256 * 1024), 0);
	/* The read writes the deferred erase out first, in pieces, not one
	 * buffer of the unit's size. */
	assert_int_equal(fl_area_read(&a, 256 * 1024, buf, sizeof(buf)), 0);
	assert_true(f.pwrites >= 4);
	assert_true(all_equal(buf, sizeof(buf), 0xA5));
	assert_int_equal(fl_area_read(&a, 0, buf, sizeof(buf)), 0);
	assert_true(all_equal(buf, sizeof(buf), 0x00));
	fl_flash_linux_close(&fl);
}

static void test_flash_file__create_fills_with_erased_value(void **state)
{
	const struct fl_flash_geom g = {0, 4096, 1, 0xC3};
	uint8_t buf[5 * 4096];
	struct fl_flash fl;
	char p[512];
	int fd;

	(void)state;
	tpath(p, sizeof(p), "new.img");
	assert_int_equal(fl_flash_file_open(&fl, p, &g, 5 * 4096, NULL), 0);
	assert_int_equal(fl.geom.size_bytes, 5 * 4096);
	fl_flash_linux_close(&fl);
	assert_int_equal(file_size(p), 5 * 4096);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	assert_true(all_equal(buf, sizeof(buf), 0xC3));
}

static void
test_flash_file__create_extends_short_file_keeping_data(void **state)
{
	uint8_t buf[4 * 4096];
	struct fl_flash fl;
	char p[512];
	int fd;

	(void)state;
	tpath(p, sizeof(p), "short.img");
	/* As an extension interrupted after 5000 bytes would leave it. */
	write_file(p, 5000, 0x11);
	assert_int_equal(fl_flash_file_open(&fl, p, NULL, 4 * 4096, NULL), 0);
	assert_int_equal(fl.geom.size_bytes, 4 * 4096);
	fl_flash_linux_close(&fl);
	assert_int_equal(file_size(p), 4 * 4096);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	assert_true(all_equal(buf, 5000, 0x11));
	assert_true(all_equal(buf + 5000, sizeof(buf) - 5000, 0xFF));

	/* A longer file is never shrunk; the device is create_size long. */
	assert_int_equal(fl_flash_file_open(&fl, p, NULL, 2 * 4096, NULL), 0);
	assert_int_equal(fl.geom.size_bytes, 2 * 4096);
	fl_flash_linux_close(&fl);
	assert_int_equal(file_size(p), 4 * 4096);
}

static void test_flash_file__size_rounded_down_to_erase_unit(void **state)
{
	struct fl_flash fl;
	char p[512];

	(void)state;
	tpath(p, sizeof(p), "odd.img");
	write_file(p, 3 * 4096 + 100, 0xFF);
	assert_int_equal(fl_flash_file_open(&fl, p, NULL, 0, NULL), 0);
	assert_int_equal(fl.geom.size_bytes, 3 * 4096);
	fl_flash_linux_close(&fl);
}

static void test_flash_file__missing_path_is_enoent(void **state)
{
	struct fl_flash_linux_diag d;
	struct fl_flash fl;
	char p[512];

	(void)state;
	tpath(p, sizeof(p), "missing.img");
	assert_int_equal(fl_flash_file_open(&fl, p, NULL, 0, &d), FL_ENOENT);
	assert_null(fl.ops);
	assert_int_equal(d.sys_errno, ENOENT);
	HAS(d.msg, p);
	HAS(d.msg, "No such file or directory");
	/* Nothing was created. */
	assert_int_equal(access(p, F_OK), -1);
}

static void test_flash_file__directory_is_einval(void **state)
{
	struct fl_flash_linux_diag d;
	struct fl_flash fl;

	(void)state;
	assert_int_equal(fl_flash_file_open(&fl, tmpdir, NULL, 0, &d),
			 FL_EINVAL);
	HAS(d.msg, tmpdir);
	HAS(d.msg, "Is a directory");
}

static void test_flash_file__char_device_is_einval(void **state)
{
	struct fl_flash_linux_diag d;
	struct fl_flash fl;

	(void)state;
	assert_int_equal(fl_flash_file_open(&fl, "/dev/null", NULL, 0, &d),
			 FL_EINVAL);
	HAS(d.msg, "/dev/null");
	HAS(d.msg, "not a regular file or a block device");
}

static void test_flash_file__file_too_small_is_enospc(void **state)
{
	struct fl_flash_geom g = {8 * 4096, 4096, 1, 0xFF};
	struct fl_flash_linux_diag d;
	struct fl_flash fl;
	char p[512];

	(void)state;
	tpath(p, sizeof(p), "small.img");
	write_file(p, 1000, 0xFF);
	/* Smaller than one erase unit. */
	assert_int_equal(fl_flash_file_open(&fl, p, NULL, 0, &d), FL_ENOSPC);
	HAS(d.msg, p);
	HAS(d.msg, "1000 bytes");
	assert_null(fl.ops);
	/* Smaller than the explicit size. */
	write_file(p, 4 * 4096, 0xFF);
	assert_int_equal(fl_flash_file_open(&fl, p, &g, 0, &d), FL_ENOSPC);
	HAS(d.msg, "16384 bytes, smaller than the 32768 bytes asked");
	/* The explicit size, when it fits, wins over the file's. */
	g.size_bytes = 2 * 4096;
	assert_int_equal(fl_flash_file_open(&fl, p, &g, 0, &d), 0);
	assert_int_equal(fl.geom.size_bytes, 2 * 4096);
	fl_flash_linux_close(&fl);
}

static void test_flash_file__bad_arguments_are_einval(void **state)
{
	struct fl_flash_geom g = {0, 3000, 1, 0xFF};
	struct fl_flash_linux_sys bad = *fl_flash_linux_sys_default();
	struct fl_flash_linux_diag d;
	struct fl_flash fl;
	char p[512];

	(void)state;
	tpath(p, sizeof(p), "args.img");
	assert_int_equal(fl_flash_file_open(NULL, p, NULL, 4096, &d),
			 FL_EINVAL);
	assert_int_equal(fl_flash_file_open(&fl, NULL, NULL, 4096, &d),
			 FL_EINVAL);
	assert_int_equal(fl_flash_file_open(&fl, p, &g, 4096, &d), FL_EINVAL);
	HAS(d.msg, "bad geometry");
	g.erase_bytes = 4096;
	g.write_bytes = 8192;
	assert_int_equal(fl_flash_file_open(&fl, p, &g, 4096, &d), FL_EINVAL);
	g.write_bytes = 1;
	g.size_bytes = 5000; /* not whole erase units */
	assert_int_equal(fl_flash_file_open(&fl, p, &g, 8192, &d), FL_EINVAL);
	HAS(d.msg, "not a multiple of the erase unit");
	bad.version = 99;
	assert_int_equal(fl_flash_file_open_sys(&fl, &bad, p, NULL, 4096, &d),
			 FL_EINVAL);
}

static void test_flash_file__block_device_size_from_blkgetsize64(void **state)
{
	struct fl_flash_linux_diag d;
	struct fl_flash_geom g = {0, 4096, 1, 0xFF};
	struct fl_flash fl;
	struct fl_area a;
	struct faulty f;
	uint8_t pat[4096], buf[4096];
	char p[512];

	(void)state;
	tpath(p, sizeof(p), "blk.img");
	fill_pattern(pat, sizeof(pat), 3);
	write_file(p, 64 * 1024, 0xFF);
	faulty_init(&f);
	f.is_fake_stat = 1;
	f.fake_type = S_IFBLK;
	f.fake_size = 0; /* a block device's st_size says nothing */
	f.blk_size = 64 * 1024 + 512;
	assert_int_equal(fl_flash_file_open_sys(&fl, &f.sys, p, NULL, 0, &d),
			 0);
	assert_int_equal(fl.geom.size_bytes, 64 * 1024);
	assert_int_equal(fl_area_init(&a, &fl, 0, 64 * 1024), 0);
	assert_int_equal(fl_area_erase(&a, 4096, 4096), 0);
	assert_int_equal(fl_area_write(&a, 4096, pat, sizeof(pat)), 0);
	assert_int_equal(fl_area_sync(&a), 0);
	assert_int_equal(f.fdatasyncs, 1);
	assert_int_equal(fl_area_read(&a, 4096, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pat, sizeof(pat));
	fl_flash_linux_close(&fl);
	assert_int_equal(f.closes, 1);

	/* A block device is never created or extended. */
	assert_int_equal(fl_flash_file_open_sys(&fl, &f.sys, p, NULL, 4096, &d),
			 FL_EINVAL);
	HAS(d.msg, "block device cannot be created");
	/* BLKGETSIZE64 fails. */
	f.blk_errno = ENOTTY;
	assert_int_equal(fl_flash_file_open_sys(&fl, &f.sys, p, NULL, 0, &d),
			 FL_EIO);
	HAS(d.msg, "BLKGETSIZE64");
	assert_int_equal(d.sys_errno, ENOTTY);
	/* 8 GiB: too big without an explicit size, fine with one. */
	f.blk_errno = 0;
	f.blk_size = 8ull << 30;
	assert_int_equal(fl_flash_file_open_sys(&fl, &f.sys, p, NULL, 0, &d),
			 FL_ETOOBIG);
	HAS(d.msg, "give an explicit size");
	g.size_bytes = 64 * 1024;
	assert_int_equal(fl_flash_file_open_sys(&fl, &f.sys, p, &g, 0, &d), 0);
	fl_flash_linux_close(&fl);
	/* Every descriptor opened was closed. */
	assert_int_equal(f.closes, 5);
}

static void test_flash_file__eintr_and_short_io_are_retried(void **state)
{
	struct fl_flash fl;
	struct fl_area a;
	struct faulty f;
	uint8_t pat[4096], buf[4096];
	char p[512];

	(void)state;
	tpath(p, sizeof(p), "eintr.img");
	fill_pattern(pat, sizeof(pat), 4);
	faulty_init(&f);
	f.is_eintr_alternate = 1;
	f.short_max = 7;
	assert_int_equal(
		fl_flash_file_open_sys(&fl, &f.sys, p, NULL, 2 * 4096, NULL),
		0);
	assert_int_equal(fl_area_init(&a, &fl, 0, 2 * 4096), 0);
	assert_int_equal(fl_area_erase(&a, 0, 2 * 4096), 0);
	assert_int_equal(fl_area_write(&a, 4096, pat, sizeof(pat)), 0);
	assert_int_equal(fl_area_read(&a, 4096, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pat, sizeof(pat));
	assert_true(f.preads >= 2 * (4096 / 7));
	assert_true(f.eintrs >= 4096 / 7);
	assert_string_equal(fl_flash_linux_last_error(&fl)->msg, "");
	fl_flash_linux_close(&fl);
}

static void test_flash_file__endless_eintr_is_bounded(void **state)
{
	const struct fl_flash_linux_diag *e;
	struct fl_flash fl;
	struct fl_area a;
	struct faulty f;
	uint8_t buf[16];
	char p[512];

	(void)state;
	tpath(p, sizeof(p), "storm.img");
	faulty_init(&f);
	assert_int_equal(
		fl_flash_file_open_sys(&fl, &f.sys, p, NULL, 4096, NULL), 0);
	assert_int_equal(fl_area_init(&a, &fl, 0, 4096), 0);
	f.is_eintr_always = 1;
	f.preads = 0;
	assert_int_equal(fl_area_read(&a, 0, buf, sizeof(buf)), FL_EIO);
	assert_int_equal(f.preads, FL_FLASH_LINUX_EINTR_MAX + 1);
	e = fl_flash_linux_last_error(&fl);
	assert_int_equal(e->sys_errno, EINTR);
	f.fdatasyncs = 0;
	f.fdatasync_errno = EINTR;
	assert_int_equal(fl_area_sync(&a), FL_EIO);
	assert_int_equal(f.fdatasyncs, FL_FLASH_LINUX_EINTR_MAX + 1);
	fl_flash_linux_close(&fl);
}

static void test_flash_file__io_errors_are_eio_with_diag(void **state)
{
	const struct fl_flash_linux_diag *e;
	struct fl_flash fl;
	struct fl_area a;
	struct faulty f;
	uint8_t buf[64];
	char p[512];

	(void)state;
	tpath(p, sizeof(p), "eio.img");
	memset(buf, 0, sizeof(buf));
	faulty_init(&f);
	assert_int_equal(
		fl_flash_file_open_sys(&fl, &f.sys, p, NULL, 4 * 4096, NULL),
		0);
	assert_int_equal(fl_area_init(&a, &fl, 0, 4 * 4096), 0);
	e = fl_flash_linux_last_error(&fl);
	assert_string_equal(e->msg, "");

	/* write: small writes are gathered (flash_file.c), so the sync that
	 * writes them out reports the failure */
	f.pwrites = 0;
	f.pwrite_fail_at = 1;
	f.io_errno = ENOSPC;
	assert_int_equal(fl_area_write(&a, 4096, buf, sizeof(buf)), 0);
	assert_int_equal(fl_area_sync(&a), FL_EIO);
	assert_int_equal(e->sys_errno, ENOSPC);
	HAS(e->msg, p);
	HAS(e->msg, "write of 64 bytes at 0x1000");
	HAS(e->msg, "No space left on device");
	/* The description stays until the next failure. */
	assert_int_equal(fl_area_sync(&a), 0);
	assert_int_equal(e->sys_errno, ENOSPC);

	/* erase: deferred too */
	f.pwrites = 0;
	f.io_errno = EIO;
	assert_int_equal(fl_area_erase(&a, 4096, 4096), 0);
	assert_int_equal(fl_area_sync(&a), FL_EIO);
	assert_int_equal(e->sys_errno, EIO);
	HAS(e->msg, "write of 4096 bytes at 0x1000");
	HAS(e->msg, "Input/output error");

	/* a write that makes no progress */
	f.pwrite_fail_at = 0;
	f.is_pwrite_zero = 1;
	assert_int_equal(fl_area_write(&a, 0, buf, sizeof(buf)), 0);
	assert_int_equal(fl_area_sync(&a), FL_EIO);
	HAS(e->msg, "no progress");
	f.is_pwrite_zero = 0;

	/* read */
	f.preads = 0;
	f.pread_fail_at = 1;
	f.io_errno = EBADMSG;
	assert_int_equal(fl_area_read(&a, 0, buf, sizeof(buf)), FL_EIO);
	assert_int_equal(e->sys_errno, EBADMSG);
	HAS(e->msg, "read of 64 bytes at 0");
	f.pread_fail_at = 0;
	f.is_pread_eof = 1;
	assert_int_equal(fl_area_read(&a, 0, buf, sizeof(buf)), FL_EIO);
	assert_int_equal(e->sys_errno, 0);
	HAS(e->msg, "unexpected end of file");
	f.is_pread_eof = 0;

	/* sync */
	f.fdatasync_errno = EIO;
	assert_int_equal(fl_area_sync(&a), FL_EIO);
	HAS(e->msg, "fdatasync");
	f.fdatasync_errno = 0;
	assert_int_equal(fl_area_sync(&a), 0);
	fl_flash_linux_close(&fl);
}

static void test_flash_file__open_failures_are_mapped(void **state)
{
	struct fl_flash_linux_diag d;
	struct fl_flash fl;
	struct faulty f;
	char p[512];

	(void)state;
	tpath(p, sizeof(p), "perm.img");
	write_file(p, 4096, 0xFF);
	faulty_init(&f);
	f.open_errno = EACCES;
	assert_int_equal(fl_flash_file_open_sys(&fl, &f.sys, p, NULL, 0, &d),
			 FL_EIO);
	assert_int_equal(d.sys_errno, EACCES);
	HAS(d.msg, "Permission denied");
	f.open_errno = 0;
	f.fstat_errno = EIO;
	assert_int_equal(fl_flash_file_open_sys(&fl, &f.sys, p, NULL, 0, &d),
			 FL_EIO);
	HAS(d.msg, "fstat");
	assert_int_equal(f.closes, 1); /* the descriptor did not leak */

	/* A failed extension is an I/O error; nothing stays open. */
	f.fstat_errno = 0;
	f.pwrite_fail_at = 1;
	f.io_errno = ENOSPC;
	assert_int_equal(
		fl_flash_file_open_sys(&fl, &f.sys, p, NULL, 4 * 4096, &d),
		FL_EIO);
	HAS(d.msg, "No space left on device");
	assert_int_equal(f.closes, 2);
	f.pwrite_fail_at = 0;
	f.fdatasync_errno = EIO;
	assert_int_equal(
		fl_flash_file_open_sys(&fl, &f.sys, p, NULL, 4 * 4096, &d),
		FL_EIO);
	HAS(d.msg, "fdatasync");
	assert_int_equal(f.closes, 3);
	assert_null(fl.ops);

	/* The real thing, where permissions apply (not to root). */
	if (geteuid() != 0) {
		assert_int_equal(chmod(p, 0400), 0);
		assert_int_equal(fl_flash_file_open(&fl, p, NULL, 0, &d),
				 FL_EIO);
		assert_int_equal(d.sys_errno, EACCES);
		chmod(p, 0600);
	}
}

static void test_flash_linux__close_accepts_null_and_closed(void **state)
{
	struct fl_flash fl;
	struct fl_sim sim;
	static uint8_t mem[4096];
	const struct fl_flash_geom g = {4096, 4096, 1, 0xFF};
	char p[512];

	(void)state;
	fl_flash_linux_close(NULL);
	memset(&fl, 0, sizeof(fl));
	fl_flash_linux_close(&fl);
	assert_string_equal(fl_flash_linux_last_error(NULL)->msg, "");
	tpath(p, sizeof(p), "close.img");
	assert_int_equal(fl_flash_file_open(&fl, p, NULL, 4096, NULL), 0);
	fl_flash_linux_close(&fl);
	fl_flash_linux_close(&fl); /* twice is harmless */
	assert_string_equal(fl_flash_linux_last_error(&fl)->msg, "");
	/* A device of another backend is left alone. */
	assert_int_equal(fl_sim_init(&sim, &g, mem, NULL), 0);
	sim.flash.priv = &sim;
	fl_flash_linux_close(&sim.flash);
	assert_non_null(sim.flash.ops);
	assert_string_equal(fl_flash_linux_last_error(&sim.flash)->msg, "");
}

/* A real block device, named by FL_TEST_BLOCK (erased and written: use a
 * loop device over a scratch file, never a disk that holds anything). */
static void test_flash_file__real_block_device_round_trip(void **state)
{
	const char *path = getenv("FL_TEST_BLOCK");
	struct fl_flash_linux_diag d;
	struct fl_flash fl;
	struct fl_area a;
	uint8_t pat[4096], buf[4096];

	(void)state;
	if (path == NULL || path[0] == '\0') {
		print_message(
			"[  INFO    ] FL_TEST_BLOCK unset: the real block "
			"device part is skipped\n");
		skip();
	}
	fill_pattern(pat, sizeof(pat), 11);
	assert_int_equal(fl_flash_file_open(&fl, path, NULL, 0, &d), 0);
	assert_true(fl.geom.size_bytes >= 2 * 4096);
	assert_int_equal(fl_area_init(&a, &fl, 0, 2 * 4096), 0);
	assert_int_equal(fl_area_erase(&a, 0, 2 * 4096), 0);
	assert_int_equal(fl_area_write(&a, 4096, pat, sizeof(pat)), 0);
	assert_int_equal(fl_area_sync(&a), 0);
	assert_int_equal(fl_area_read(&a, 4096, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pat, sizeof(pat));
	assert_int_equal(fl_area_read(&a, 0, buf, sizeof(buf)), 0);
	assert_true(all_equal(buf, sizeof(buf), 0xFF));
	fl_flash_linux_close(&fl);
	assert_int_equal(fl_flash_file_open(&fl, path, NULL, 4096, &d),
			 FL_EINVAL);
}

/* --- a fake MTD device -----------------------------------------------------
 */

#define MTD_SIZE (16 * 4096)
#define MTD_FD	 7

struct fake_mtd {
	struct fl_flash_linux_sys sys;
	uint8_t mem[MTD_SIZE];
	struct mtd_info_user info;
	unsigned type; /* what fstat says: S_IFCHR */
	int open_errno;
	int getinfo_errno;
	int erase_errno;
	unsigned erase_eintrs; /* MEMERASE fails with EINTR this many times */
	int pread_errno;
	int pwrite_errno;
	size_t short_write_max;
	int is_eintr_alternate;
	int is_open;
	unsigned opens, closes, bad_fd;
	unsigned erases, bad_erase_args, unknown_ioctls;
	struct erase_info_user last_erase;
	unsigned preads, pwrites, write_over_unerased, bad_write_args;
};

static int m_open(void *ctx, const char *path, int flags, unsigned mode)
{
	struct fake_mtd *m = ctx;

	if (m->open_errno != 0) {
		errno = m->open_errno;
		return -1;
	}
	assert_int_equal(flags & O_ACCMODE, O_RDWR);
	assert_true((flags & O_CLOEXEC) != 0);
	assert_false(m->is_open);
	m->is_open = 1;
	m->opens++;
	return MTD_FD;
}

static int m_check_fd(struct fake_mtd *m, int fd)
{
	if (fd != MTD_FD || !m->is_open) {
		m->bad_fd++;
		errno = EBADF;
		return -1;
	}
	return 0;
}

static int m_close(void *ctx, int fd)
{
	struct fake_mtd *m = ctx;

	if (m_check_fd(m, fd) != 0)
		return -1;
	m->is_open = 0;
	m->closes++;
	return 0;
}

static int m_fstat(void *ctx, int fd, unsigned *type, uint64_t *size)
{
	struct fake_mtd *m = ctx;

	if (m_check_fd(m, fd) != 0)
		return -1;
	*type = m->type;
	*size = 0;
	return 0;
}

static ssize_t m_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
	struct fake_mtd *m = ctx;

	if (m_check_fd(m, fd) != 0)
		return -1;
	if (m->is_eintr_alternate && ++m->preads % 2 == 1) {
		errno = EINTR;
		return -1;
	}
	if (m->pread_errno != 0) {
		errno = m->pread_errno;
		return -1;
	}
	if (off >= MTD_SIZE)
		return 0;
	if (len > MTD_SIZE - off)
		len = (size_t)(MTD_SIZE - off);
	memcpy(buf, m->mem + off, len);
	return (ssize_t)len;
}

/* NOR: a write may only program erased bytes, in whole write units. */
static ssize_t m_pwrite(void *ctx, int fd, const void *buf, size_t len,
			uint64_t off)
{
	struct fake_mtd *m = ctx;
	uint32_t unit = m->info.writesize != 0 ? m->info.writesize : 1;
	int is_ram = (m->info.flags & MTD_NO_ERASE) != 0;

	if (m_check_fd(m, fd) != 0)
		return -1;
	if (m->is_eintr_alternate && ++m->pwrites % 2 == 1) {
		errno = EINTR;
		return -1;
	}
	if (m->pwrite_errno != 0) {
		errno = m->pwrite_errno;
		return -1;
	}
	if (off % unit != 0 || len % unit != 0 || off > MTD_SIZE ||
	    len > MTD_SIZE - off) {
		m->bad_write_args++;
		errno = EINVAL;
		return -1;
	}
	if (m->short_write_max != 0 && len > m->short_write_max)
		len = m->short_write_max;
	if (!is_ram && !all_equal(m->mem + off, len, 0xFF)) {
		m->write_over_unerased++;
		errno = EIO;
		return -1;
	}
	memcpy(m->mem + off, buf, len);
	return (ssize_t)len;
}

static int m_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct fake_mtd *m = ctx;
	struct erase_info_user ei;

	if (m_check_fd(m, fd) != 0)
		return -1;
	if (req == MEMGETINFO) {
		if (m->getinfo_errno != 0) {
			errno = m->getinfo_errno;
			return -1;
		}
		memcpy(arg, &m->info, sizeof(m->info));
		return 0;
	}
	if (req == MEMERASE) {
		memcpy(&ei, arg, sizeof(ei));
		m->erases++;
		m->last_erase = ei;
		if (m->erase_eintrs > 0) {
			m->erase_eintrs--;
			errno = EINTR;
			return -1;
		}
		if (m->erase_errno != 0) {
			errno = m->erase_errno;
			return -1;
		}
		if (ei.length == 0 || ei.start % m->info.erasesize != 0 ||
		    ei.length % m->info.erasesize != 0 ||
		    ei.start > m->info.size ||
		    ei.length > m->info.size - ei.start) {
			m->bad_erase_args++;
			errno = EINVAL;
			return -1;
		}
		memset(m->mem + ei.start, 0xFF, ei.length);
		return 0;
	}
	m->unknown_ioctls++;
	errno = ENOTTY;
	return -1;
}

static int m_fdatasync(void *ctx, int fd)
{
	errno = EINVAL; /* mtdchar has no fsync */
	return -1;
}

static void fake_mtd_init(struct fake_mtd *m, uint8_t type, uint32_t flags,
			  uint32_t erasesize, uint32_t writesize)
{
	memset(m, 0, sizeof(*m));
	m->sys.version = FL_FLASH_LINUX_SYS_VERSION;
	m->sys.ctx = m;
	m->sys.open = m_open;
	m->sys.close = m_close;
	m->sys.fstat = m_fstat;
	m->sys.pread = m_pread;
	m->sys.pwrite = m_pwrite;
	m->sys.ioctl = m_ioctl;
	m->sys.fdatasync = m_fdatasync;
	m->type = S_IFCHR;
	m->info.type = type;
	m->info.flags = flags;
	m->info.size = MTD_SIZE;
	m->info.erasesize = erasesize;
	m->info.writesize = writesize;
	/* Fresh from the factory: not erased, so a write without an erase
	 * is caught. */
	memset(m->mem, 0x00, sizeof(m->mem));
}

static void test_flash_mtd__geometry_from_memgetinfo(void **state)
{
	struct fake_mtd m;
	struct fl_flash fl;

	(void)state;
	fake_mtd_init(&m, MTD_NORFLASH, MTD_CAP_NORFLASH, 8192, 16);
	assert_int_equal(fl_flash_mtd_open_sys(&fl, &m.sys, "fake", NULL), 0);
	assert_string_equal(fl.ops->name, "mtd");
	assert_int_equal(fl.geom.size_bytes, MTD_SIZE);
	assert_int_equal(fl.geom.erase_bytes, 8192);
	assert_int_equal(fl.geom.write_bytes, 16);
	assert_int_equal(fl.geom.erased_value, 0xFF);
	assert_null(fl.ops->sync);
	fl_flash_linux_close(&fl);
	assert_int_equal(m.closes, 1);
	assert_int_equal(m.bad_fd, 0);

	/* writesize 0 (old kernels, some NOR drivers) means 1. */
	fake_mtd_init(&m, MTD_NORFLASH, MTD_CAP_NORFLASH, 4096, 0);
	assert_int_equal(fl_flash_mtd_open_sys(&fl, &m.sys, "fake", NULL), 0);
	assert_int_equal(fl.geom.write_bytes, 1);
	fl_flash_linux_close(&fl);
}

static void test_flash_mtd__round_trip_erases_before_writing(void **state)
{
	struct fake_mtd m;
	struct fl_flash fl;
	struct fl_area a;
	uint8_t pat[4096], buf[4096];

	(void)state;
	fill_pattern(pat, sizeof(pat), 5);
	fake_mtd_init(&m, MTD_NORFLASH, MTD_CAP_NORFLASH, 4096, 16);
	assert_int_equal(fl_flash_mtd_open_sys(&fl, &m.sys, "fake", NULL), 0);
	assert_int_equal(fl_area_init(&a, &fl, 2 * 4096, 4 * 4096), 0);
	assert_int_equal(fl_area_erase(&a, 4096, 2 * 4096), 0);
	/* One MEMERASE, with the device offset and length. */
	assert_int_equal(m.erases, 1);
	assert_int_equal(m.last_erase.start, 3 * 4096);
	assert_int_equal(m.last_erase.length, 2 * 4096);
	assert_int_equal(fl_area_write(&a, 4096, pat, sizeof(pat)), 0);
	assert_int_equal(fl_area_write(&a, 2 * 4096, pat, 32), 0);
	assert_int_equal(fl_area_sync(&a), 0);
	assert_int_equal(fl_area_read(&a, 4096, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pat, sizeof(pat));
	assert_memory_equal(m.mem + 3 * 4096, pat, sizeof(pat));
	assert_int_equal(fl_area_read(&a, 2 * 4096 + 32, buf, 64), 0);
	assert_true(all_equal(buf, 64, 0xFF));
	/* Outside the erased range nothing changed. */
	assert_true(all_equal(m.mem + 2 * 4096, 4096, 0x00));
	assert_int_equal(m.write_over_unerased, 0);
	assert_int_equal(m.bad_erase_args, 0);
	assert_int_equal(m.bad_write_args, 0);
	assert_int_equal(m.unknown_ioctls, 0);
	fl_flash_linux_close(&fl);
	assert_int_equal(m.closes, 1);
}

static void test_flash_mtd__fake_refuses_write_without_erase(void **state)
{
	const struct fl_flash_linux_diag *e;
	struct fake_mtd m;
	struct fl_flash fl;
	struct fl_area a;
	uint8_t pat[64];

	(void)state;
	fill_pattern(pat, sizeof(pat), 6);
	fake_mtd_init(&m, MTD_NORFLASH, MTD_CAP_NORFLASH, 4096, 1);
	assert_int_equal(fl_flash_mtd_open_sys(&fl, &m.sys, "fake", NULL), 0);
	assert_int_equal(fl_area_init(&a, &fl, 0, MTD_SIZE), 0);
	assert_int_equal(fl_area_write(&a, 0, pat, sizeof(pat)), FL_EIO);
	assert_int_equal(m.write_over_unerased, 1);
	e = fl_flash_linux_last_error(&fl);
	HAS(e->msg, "fake: write of 64 bytes at 0");
	assert_int_equal(fl_area_erase(&a, 0, 4096), 0);
	assert_int_equal(fl_area_write(&a, 0, pat, sizeof(pat)), 0);
	/* Programming the same bytes again is caught too. */
	assert_int_equal(fl_area_write(&a, 0, pat, sizeof(pat)), FL_EIO);
	assert_int_equal(m.write_over_unerased, 2);
	fl_flash_linux_close(&fl);
}

static void test_flash_mtd__eintr_and_short_writes_are_retried(void **state)
{
	struct fake_mtd m;
	struct fl_flash fl;
	struct fl_area a;
	uint8_t pat[4096], buf[4096];

	(void)state;
	fill_pattern(pat, sizeof(pat), 7);
	fake_mtd_init(&m, MTD_NORFLASH, MTD_CAP_NORFLASH, 4096, 16);
	m.short_write_max = 48;
	m.is_eintr_alternate = 1;
	m.erase_eintrs = 2;
	assert_int_equal(fl_flash_mtd_open_sys(&fl, &m.sys, "fake", NULL), 0);
	assert_int_equal(fl_area_init(&a, &fl, 0, MTD_SIZE), 0);
	assert_int_equal(fl_area_erase(&a, 0, 4096), 0);
	assert_int_equal(m.erases, 3);
	assert_int_equal(fl_area_write(&a, 0, pat, sizeof(pat)), 0);
	assert_true(m.pwrites >= 2 * (4096 / 48));
	assert_int_equal(fl_area_read(&a, 0, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pat, sizeof(pat));
	assert_int_equal(m.write_over_unerased, 0);
	assert_int_equal(m.bad_write_args, 0);
	fl_flash_linux_close(&fl);
}

static void test_flash_mtd__io_failures_are_eio_with_diag(void **state)
{
	const struct fl_flash_linux_diag *e;
	struct fake_mtd m;
	struct fl_flash fl;
	struct fl_area a;
	uint8_t buf[64];

	(void)state;
	memset(buf, 0, sizeof(buf));
	fake_mtd_init(&m, MTD_NORFLASH, MTD_CAP_NORFLASH, 4096, 1);
	assert_int_equal(fl_flash_mtd_open_sys(&fl, &m.sys, "/dev/mtd9", NULL),
			 0);
	assert_int_equal(fl_area_init(&a, &fl, 0, MTD_SIZE), 0);
	e = fl_flash_linux_last_error(&fl);

	m.erase_errno = EIO;
	assert_int_equal(fl_area_erase(&a, 4096, 2 * 4096), FL_EIO);
	assert_int_equal(e->sys_errno, EIO);
	HAS(e->msg, "/dev/mtd9: MEMERASE of 8192 bytes at 0x1000");
	HAS(e->msg, "Input/output error");
	m.erase_errno = 0;
	m.erase_eintrs = 1000;
	assert_int_equal(fl_area_erase(&a, 0, 4096), FL_EIO);
	assert_int_equal(e->sys_errno, EINTR);
	m.erase_eintrs = 0;
	assert_int_equal(fl_area_erase(&a, 0, 4096), 0);

	m.pwrite_errno = EROFS;
	assert_int_equal(fl_area_write(&a, 0, buf, sizeof(buf)), FL_EIO);
	assert_int_equal(e->sys_errno, EROFS);
	m.pwrite_errno = 0;

	m.pread_errno = EBADMSG;
	assert_int_equal(fl_area_read(&a, 0, buf, sizeof(buf)), FL_EIO);
	assert_int_equal(e->sys_errno, EBADMSG);
	HAS(e->msg, "/dev/mtd9: read of 64 bytes at 0");
	fl_flash_linux_close(&fl);
	assert_int_equal(m.bad_fd, 0);
}

static void test_flash_mtd__memgetinfo_failure(void **state)
{
	struct fl_flash_linux_diag d;
	struct fake_mtd m;
	struct fl_flash fl;

	(void)state;
	fake_mtd_init(&m, MTD_NORFLASH, MTD_CAP_NORFLASH, 4096, 1);
	m.getinfo_errno = EIO;
	assert_int_equal(fl_flash_mtd_open_sys(&fl, &m.sys, "/dev/mtd3", &d),
			 FL_EIO);
	HAS(d.msg, "/dev/mtd3: MEMGETINFO");
	assert_int_equal(d.sys_errno, EIO);
	assert_null(fl.ops);
	/* A character device that is not MTD. */
	m.getinfo_errno = ENOTTY;
	assert_int_equal(fl_flash_mtd_open_sys(&fl, &m.sys, "/dev/mtd3", &d),
			 FL_EINVAL);
	assert_int_equal(m.opens, 2);
	assert_int_equal(m.closes, 2);
	/* The real /dev/null says the same. */
	assert_int_equal(fl_flash_mtd_open(&fl, "/dev/null", &d), FL_EINVAL);
	assert_int_equal(d.sys_errno, ENOTTY);
}

static void test_flash_mtd__nand_and_readonly_are_enotsup(void **state)
{
	static const uint8_t refused[] = {MTD_NANDFLASH, MTD_MLCNANDFLASH,
					  MTD_ROM, MTD_ABSENT, MTD_UBIVOLUME};
	struct fl_flash_linux_diag d;
	struct fake_mtd m;
	struct fl_flash fl;

	(void)state;
	for (size_t i = 0; i < sizeof(refused); i++) {
		fake_mtd_init(&m, refused[i], MTD_CAP_NANDFLASH, 4096, 1);
		assert_int_equal(
			fl_flash_mtd_open_sys(&fl, &m.sys, "/dev/mtd1", &d),
			FL_ENOTSUP);
		HAS(d.msg, "/dev/mtd1");
		assert_int_equal(m.closes, 1);
	}
	fake_mtd_init(&m, MTD_NANDFLASH, MTD_CAP_NANDFLASH, 131072, 2048);
	assert_int_equal(fl_flash_mtd_open_sys(&fl, &m.sys, "/dev/mtd1", &d),
			 FL_ENOTSUP);
	HAS(d.msg, "NAND flash (MTD type 4) needs bad-block handling");
	fake_mtd_init(&m, MTD_NORFLASH, MTD_BIT_WRITEABLE, 4096, 1);
	assert_int_equal(fl_flash_mtd_open_sys(&fl, &m.sys, "/dev/mtd1", &d),
			 FL_ENOTSUP);
	HAS(d.msg, "read-only");
	/* DataFlash with 528-byte pages: not a power of two. */
	fake_mtd_init(&m, MTD_DATAFLASH, MTD_CAP_NORFLASH, 528 * 8, 528);
	assert_int_equal(fl_flash_mtd_open_sys(&fl, &m.sys, "/dev/mtd1", &d),
			 FL_ENOTSUP);
	HAS(d.msg, "geometry not supported");
	assert_int_equal(m.closes, 1);
}

static void test_flash_mtd__not_a_char_device_or_missing(void **state)
{
	struct fl_flash_linux_diag d;
	struct fake_mtd m;
	struct fl_flash fl;
	char p[512];

	(void)state;
	fake_mtd_init(&m, MTD_NORFLASH, MTD_CAP_NORFLASH, 4096, 1);
	m.type = S_IFBLK; /* /dev/mtdblock0 */
	assert_int_equal(
		fl_flash_mtd_open_sys(&fl, &m.sys, "/dev/mtdblock0", &d),
		FL_EINVAL);
	HAS(d.msg, "not a character device");
	assert_int_equal(m.closes, 1);
	m.open_errno = ENOENT;
	assert_int_equal(fl_flash_mtd_open_sys(&fl, &m.sys, "/dev/mtd0", &d),
			 FL_ENOENT);
	/* The real system calls. */
	tpath(p, sizeof(p), "plain");
	write_file(p, 4096, 0xFF);
	assert_int_equal(fl_flash_mtd_open(&fl, p, &d), FL_EINVAL);
	tpath(p, sizeof(p), "nothere");
	assert_int_equal(fl_flash_mtd_open(&fl, p, &d), FL_ENOENT);
	HAS(d.msg, "No such file or directory");
	assert_int_equal(fl_flash_mtd_open(NULL, p, &d), FL_EINVAL);
}

static void test_flash_mtd__no_erase_device_erases_by_writing(void **state)
{
	struct fake_mtd m;
	struct fl_flash fl;
	struct fl_area a;
	uint8_t pat[4096], buf[4096];

	(void)state;
	fill_pattern(pat, sizeof(pat), 8);
	fake_mtd_init(&m, MTD_RAM, MTD_CAP_RAM, 4096, 1);
	assert_int_equal(fl_flash_mtd_open_sys(&fl, &m.sys, "fake", NULL), 0);
	assert_int_equal(fl_area_init(&a, &fl, 0, MTD_SIZE), 0);
	assert_int_equal(fl_area_write(&a, 4096, pat, sizeof(pat)), 0);
	assert_int_equal(fl_area_erase(&a, 4096, 4096), 0);
	assert_int_equal(m.erases, 0);
	assert_int_equal(fl_area_read(&a, 4096, buf, sizeof(buf)), 0);
	assert_true(all_equal(buf, sizeof(buf), 0xFF));
	fl_flash_linux_close(&fl);
}

/* An mtdram device, or the one named by FL_TEST_MTD (which is erased and
 * written: never point it at a device that holds anything). */
static int find_real_mtd(char *path, size_t len)
{
	const char *env = getenv("FL_TEST_MTD");
	char name[64], sys_path[64];
	FILE *f;

	if (env != NULL && env[0] != '\0') {
		snprintf(path, len, "%s", env);
		return 1;
	}
	for (int i = 0; i < 16; i++) {
		snprintf(sys_path, sizeof(sys_path),
			 "/sys/class/mtd/mtd%d/name", i);
		f = fopen(sys_path, "r");
		if (f == NULL)
			continue;
		if (fgets(name, sizeof(name), f) != NULL &&
		    strncmp(name, "mtdram test device", 18) == 0) {
			fclose(f);
			snprintf(path, len, "/dev/mtd%d", i);
			return 1;
		}
		fclose(f);
	}
	return 0;
}

static void test_flash_mtd__real_device_round_trip(void **state)
{
	struct fl_flash_linux_diag d;
	struct fl_flash fl;
	struct fl_area a;
	static uint8_t pat[65536], buf[65536];
	char path[256];
	uint32_t unit;

	(void)state;
	if (!find_real_mtd(path, sizeof(path))) {
		print_message("[  INFO    ] no mtdram device and FL_TEST_MTD "
			      "unset: the real-MTD part is skipped\n");
		skip();
	}
	print_message("[  INFO    ] real MTD device: %s\n", path);
	assert_int_equal(fl_flash_mtd_open(&fl, path, &d), 0);
	unit = fl.geom.erase_bytes;
	assert_true(unit <= sizeof(pat));
	fill_pattern(pat, unit, 9);
	assert_int_equal(fl_area_init(&a, &fl, 0, unit), 0);
	assert_int_equal(fl_area_erase(&a, 0, unit), 0);
	assert_int_equal(fl_area_read(&a, 0, buf, unit), 0);
	assert_true(all_equal(buf, unit, 0xFF));
	assert_int_equal(fl_area_write(&a, 0, pat, unit), 0);
	assert_int_equal(fl_area_sync(&a), 0);
	assert_int_equal(fl_area_read(&a, 0, buf, unit), 0);
	assert_memory_equal(buf, pat, unit);
	assert_int_equal(fl_area_erase(&a, 0, unit), 0);
	fl_flash_linux_close(&fl);
}

/* --- a file as simulator memory --------------------------------------------
 */

#define SIM_SIZE (8 * 4096)

static void test_flash_sim_map__creates_erased_file(void **state)
{
	struct fl_flash_linux_diag d;
	uint8_t *mem = NULL;
	char p[512], tmp[520];

	(void)state;
	tpath(p, sizeof(p), "sim.bin");
	assert_int_equal(fl_flash_sim_map_file(p, SIM_SIZE, 0xFF, &mem, &d), 0);
	assert_non_null(mem);
	assert_true(all_equal(mem, SIM_SIZE, 0xFF));
	assert_int_equal(file_size(p), SIM_SIZE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	assert_int_equal(access(tmp, F_OK), -1);
	fl_flash_sim_unmap(mem, SIM_SIZE);
	fl_flash_sim_unmap(NULL, SIM_SIZE);
}

static void test_flash_sim_map__data_persists_after_unmap(void **state)
{
	const struct fl_flash_geom g = {SIM_SIZE, 4096, 1, 0xFF};
	struct fl_sim sim;
	struct fl_area a;
	uint8_t *mem = NULL;
	uint8_t pat[4096], buf[4096];
	char p[512];
	int fd;

	(void)state;
	tpath(p, sizeof(p), "persist.bin");
	fill_pattern(pat, sizeof(pat), 10);
	assert_int_equal(fl_flash_sim_map_file(p, SIM_SIZE, 0xFF, &mem, NULL),
			 0);
	assert_int_equal(fl_sim_init(&sim, &g, mem, NULL), 0);
	assert_int_equal(fl_area_init(&a, &sim.flash, 0, SIM_SIZE), 0);
	assert_int_equal(fl_area_write(&a, 2 * 4096, pat, sizeof(pat)), 0);
	fl_flash_sim_unmap(mem, SIM_SIZE);

	/* In the file itself ... */
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), 2 * 4096),
			 (ssize_t)sizeof(buf));
	close(fd);
	assert_memory_equal(buf, pat, sizeof(pat));

	/* ... and after a remap, a "reboot" over the same medium. */
	mem = NULL;
	assert_int_equal(fl_flash_sim_map_file(p, SIM_SIZE, 0xFF, &mem, NULL),
			 0);
	assert_int_equal(fl_sim_init(&sim, &g, mem, NULL), 0);
	assert_int_equal(fl_area_init(&a, &sim.flash, 0, SIM_SIZE), 0);
	assert_int_equal(fl_area_read(&a, 2 * 4096, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pat, sizeof(pat));
	/* The NOR rule still holds over the mapped file. */
	assert_int_equal(fl_area_write(&a, 2 * 4096, pat, 16), FL_ENOTERASED);
	fl_flash_sim_unmap(mem, SIM_SIZE);
}

static void test_flash_sim_map__wrong_size_is_refused(void **state)
{
	struct fl_flash_linux_diag d;
	uint8_t *mem = (uint8_t *)&d;
	char p[512];

	(void)state;
	tpath(p, sizeof(p), "wrong.bin");
	write_file(p, SIM_SIZE / 2, 0xFF);
	assert_int_equal(fl_flash_sim_map_file(p, SIM_SIZE, 0xFF, &mem, &d),
			 FL_EINVAL);
	assert_null(mem);
	HAS(d.msg, p);
	HAS(d.msg, "16384 bytes, but the simulated device is 32768 bytes");
	/* Left as it was. */
	assert_int_equal(file_size(p), SIM_SIZE / 2);

	assert_int_equal(
		fl_flash_sim_map_file(tmpdir, SIM_SIZE, 0xFF, &mem, &d),
		FL_EINVAL);
	HAS(d.msg, "Is a directory");
	assert_int_equal(
		fl_flash_sim_map_file("/dev/null", SIM_SIZE, 0xFF, &mem, &d),
		FL_EINVAL);
	HAS(d.msg, "not a regular file");
	assert_int_equal(fl_flash_sim_map_file(p, 0, 0xFF, &mem, &d),
			 FL_EINVAL);
	assert_int_equal(fl_flash_sim_map_file(NULL, SIM_SIZE, 0xFF, &mem, &d),
			 FL_EINVAL);
	assert_int_equal(fl_flash_sim_map_file(p, SIM_SIZE, 0xFF, NULL, &d),
			 FL_EINVAL);
}

static void test_flash_sim_map__failed_create_leaves_no_file(void **state)
{
	struct fl_flash_linux_diag d;
	struct rlimit saved, small;
	uint8_t *mem = NULL;
	char p[512], tmp[520], longp[5000];

	(void)state;
	tpath(p, sizeof(p), "nospace.bin");
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	/* A file size limit makes the fill fail part way, with EFBIG. */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = 8192;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(fl_flash_sim_map_file(p, SIM_SIZE, 0xFF, &mem, &d),
			 FL_EIO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	assert_int_equal(d.sys_errno, EFBIG);
	HAS(d.msg, tmp);
	assert_null(mem);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(access(tmp, F_OK), -1);

	/* A directory that does not exist. */
	tpath(p, sizeof(p), "no/such/dir.bin");
	assert_int_equal(fl_flash_sim_map_file(p, SIM_SIZE, 0xFF, &mem, &d),
			 FL_EIO);
	HAS(d.msg, "create");

	/* A path too long for the temporary name. */
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(fl_flash_sim_map_file(longp, SIM_SIZE, 0xFF, &mem, &d),
			 FL_EIO); /* ENAMETOOLONG from open */
	/* Short components, 4093 bytes in all: fits PATH_MAX (the open
	 * finds no such directory), but "<path>.tmp" does not. */
	for (size_t i = 0; i < 4093; i++)
		longp[i] = i % 100 == 0 ? '/' : 'a';
	longp[4093] = '\0';
	assert_int_equal(fl_flash_sim_map_file(longp, SIM_SIZE, 0xFF, &mem, &d),
			 FL_ETOOBIG);
	HAS(d.msg, "path too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flash_file__round_trip_through_area),
		cmocka_unit_test(test_flash_file__default_geometry_is_4k_nor),
		cmocka_unit_test(test_flash_file__erase_sets_erased_value),
		cmocka_unit_test(
			test_flash_file__erase_unit_larger_than_fill_buffer),
		cmocka_unit_test(
			test_flash_file__create_fills_with_erased_value),
		cmocka_unit_test(
			test_flash_file__create_extends_short_file_keeping_data),
		cmocka_unit_test(
			test_flash_file__size_rounded_down_to_erase_unit),
		cmocka_unit_test(test_flash_file__missing_path_is_enoent),
		cmocka_unit_test(test_flash_file__directory_is_einval),
		cmocka_unit_test(test_flash_file__char_device_is_einval),
		cmocka_unit_test(test_flash_file__file_too_small_is_enospc),
		cmocka_unit_test(test_flash_file__bad_arguments_are_einval),
		cmocka_unit_test(
			test_flash_file__block_device_size_from_blkgetsize64),
		cmocka_unit_test(
			test_flash_file__eintr_and_short_io_are_retried),
		cmocka_unit_test(test_flash_file__endless_eintr_is_bounded),
		cmocka_unit_test(test_flash_file__io_errors_are_eio_with_diag),
		cmocka_unit_test(test_flash_file__open_failures_are_mapped),
		cmocka_unit_test(test_flash_file__real_block_device_round_trip),
		cmocka_unit_test(
			test_flash_linux__close_accepts_null_and_closed),
		cmocka_unit_test(test_flash_mtd__geometry_from_memgetinfo),
		cmocka_unit_test(
			test_flash_mtd__round_trip_erases_before_writing),
		cmocka_unit_test(
			test_flash_mtd__fake_refuses_write_without_erase),
		cmocka_unit_test(
			test_flash_mtd__eintr_and_short_writes_are_retried),
		cmocka_unit_test(test_flash_mtd__io_failures_are_eio_with_diag),
		cmocka_unit_test(test_flash_mtd__memgetinfo_failure),
		cmocka_unit_test(test_flash_mtd__nand_and_readonly_are_enotsup),
		cmocka_unit_test(test_flash_mtd__not_a_char_device_or_missing),
		cmocka_unit_test(
			test_flash_mtd__no_erase_device_erases_by_writing),
		cmocka_unit_test(test_flash_mtd__real_device_round_trip),
		cmocka_unit_test(test_flash_sim_map__creates_erased_file),
		cmocka_unit_test(test_flash_sim_map__data_persists_after_unmap),
		cmocka_unit_test(test_flash_sim_map__wrong_size_is_refused),
		cmocka_unit_test(
			test_flash_sim_map__failed_create_leaves_no_file),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
