/*
 * test_flash_file_lazy.c -- the file backend's write-back (flash_file.c):
 * an erase followed by writes of the same bytes writes them once, small
 * writes that follow each other are gathered into large ones, and
 * whatever else meets what waits in memory (a read, a write elsewhere or
 * into the middle of an erase, an erase over written bytes, a sync, the
 * close) finds it written out first, in order, in the backend and in the
 * file; a failure to write out is reported by the call that tries and
 * leaves it pending; the disk's write-back is started every
 * FL_LINUX_WRITEBACK_BYTES, and its failure changes nothing; what the
 * thread wrote is flushed (fdatasync) every FL_LINUX_FLUSH_BYTES, and a
 * failure of that flush is reported by the next sync, once. Full runs are
 * written by the backend's write-back thread: where a test looks at the
 * system calls made, it first waits for the thread (fl_flash_linux__
 * wait_idle); a run the thread fails is reported by a later call, all or
 * nothing, and written again after.
 *
 * A syscall table wraps the real one to count the bytes written, record
 * the order of writes and syncs, and make writes and syncs fail; the
 * backend's thread writes while its flusher syncs, so what both record is
 * kept under a lock. Files live in a mkdtemp directory removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fl/err.h"
#include "fl/flash_linux.h"
#include "flash_linux_priv.h" /* FL_LINUX_WRITEBACK_BYTES, _FLUSH_BYTES */

#define UNIT 4096u
#define MIB  (1024u * 1024u)

static char tmpdir[256];

static int group_setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/fl-flash-lazy-XXXXXX",
		 base != NULL && base[0] != '\0' ? base : "/tmp");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	char p[512];

	(void)state;
	snprintf(p, sizeof(p), "%s/lazy.img", tmpdir);
	unlink(p);
	return rmdir(tmpdir);
}

/* --- a counting, failing syscall table ------------------------------------ */

struct spy {
	struct fl_flash_linux_sys sys;
	const struct fl_flash_linux_sys *real;
	uint64_t bytes_written;
	unsigned pwrites, pwrite_fail_at; /* 1-based (0: none) */
	unsigned sfrs;
	int sfr_errno;	    /* sync_file_range fails with it (0: works) */
	pthread_mutex_t mu; /* over what follows */
	unsigned syncs, sync_fail_at; /* 1-based (0: none) */
	int sync_errno;		      /* of the failure at sync_fail_at */
	char log[64];		      /* 'w' per write, 's' per fdatasync */
	size_t log_len;
	pthread_t caller;	 /* the test's own thread */
	unsigned thread_pwrites; /* writes made by another thread */
};

static void note(struct spy *s, char c)
{
	pthread_mutex_lock(&s->mu);
	if (s->log_len + 1 < sizeof(s->log)) {
		s->log[s->log_len++] = c;
		s->log[s->log_len] = '\0';
	}
	pthread_mutex_unlock(&s->mu);
}

/* The fdatasyncs made, and the log so far (a copy, under the lock). */
static unsigned syncs_of(struct spy *s, char *log, size_t log_size)
{
	unsigned n;

	pthread_mutex_lock(&s->mu);
	n = s->syncs;
	if (log != NULL)
		snprintf(log, log_size, "%s", s->log);
	pthread_mutex_unlock(&s->mu);
	return n;
}

static int s_open(void *ctx, const char *path, int flags, unsigned mode)
{
	struct spy *s = ctx;

	return s->real->open(s->real->ctx, path, flags, mode);
}

static int s_close(void *ctx, int fd)
{
	struct spy *s = ctx;

	return s->real->close(s->real->ctx, fd);
}

static int s_fstat(void *ctx, int fd, unsigned *type, uint64_t *size)
{
	struct spy *s = ctx;

	return s->real->fstat(s->real->ctx, fd, type, size);
}

static ssize_t s_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
	struct spy *s = ctx;

	return s->real->pread(s->real->ctx, fd, buf, len, off);
}

static ssize_t s_pwrite(void *ctx, int fd, const void *buf, size_t len,
			uint64_t off)
{
	struct spy *s = ctx;
	ssize_t n;

	if (++s->pwrites == s->pwrite_fail_at) {
		errno = EIO;
		return -1;
	}
	n = s->real->pwrite(s->real->ctx, fd, buf, len, off);
	if (n > 0)
		s->bytes_written += (uint64_t)n;
	if (!pthread_equal(pthread_self(), s->caller)) {
		pthread_mutex_lock(&s->mu);
		s->thread_pwrites++;
		pthread_mutex_unlock(&s->mu);
	}
	note(s, 'w');
	return n;
}

static int s_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct spy *s = ctx;

	return s->real->ioctl(s->real->ctx, fd, req, arg);
}

static int s_fdatasync(void *ctx, int fd)
{
	struct spy *s = ctx;
	int is_fail;

	note(s, 's');
	pthread_mutex_lock(&s->mu);
	is_fail = ++s->syncs == s->sync_fail_at;
	pthread_mutex_unlock(&s->mu);
	if (is_fail) {
		errno = s->sync_errno;
		return -1;
	}
	return s->real->fdatasync(s->real->ctx, fd);
}

static int s_sync_file_range(void *ctx, int fd, uint64_t off, uint64_t len,
			     unsigned flags)
{
	struct spy *s = ctx;

	s->sfrs++;
	if (s->sfr_errno != 0) {
		errno = s->sfr_errno;
		return -1;
	}
	return s->real->sync_file_range(s->real->ctx, fd, off, len, flags);
}

static void spy_init(struct spy *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(pthread_mutex_init(&s->mu, NULL), 0);
	s->real = fl_flash_linux_sys_default();
	s->caller = pthread_self();
	s->sys.version = FL_FLASH_LINUX_SYS_VERSION;
	s->sys.ctx = s;
	s->sys.open = s_open;
	s->sys.close = s_close;
	s->sys.fstat = s_fstat;
	s->sys.pread = s_pread;
	s->sys.pwrite = s_pwrite;
	s->sys.ioctl = s_ioctl;
	s->sys.fdatasync = s_fdatasync;
	s->sys.sync_file_range = s_sync_file_range;
}

static void spy_reset(struct spy *s)
{
	s->bytes_written = 0;
	s->pwrites = 0;
	pthread_mutex_lock(&s->mu);
	s->thread_pwrites = 0;
	s->syncs = 0;
	s->sync_fail_at = 0;
	s->log_len = 0;
	s->log[0] = '\0';
	pthread_mutex_unlock(&s->mu);
}

/* --- helpers ------------------------------------------------------------- */

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13u + seed * 5u + 3u);
}

static int all_equal(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

/* A device of `units` erase units over a fresh file of 0x5A bytes. */
static void open_dev(struct fl_flash *fl, struct fl_area *a, struct spy *s,
		     char *path, size_t path_len, unsigned units)
{
	uint8_t buf[UNIT];
	int fd;

	snprintf(path, path_len, "%s/lazy.img", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	memset(buf, 0x5A, sizeof(buf));
	for (unsigned i = 0; i < units; i++)
		assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)UNIT);
	assert_int_equal(close(fd), 0);
	spy_init(s);
	assert_int_equal(
		fl_flash_file_open_sys(fl, &s->sys, path, NULL, 0, NULL), 0);
	assert_int_equal(fl_area_init(a, fl, 0, units * UNIT), 0);
	spy_reset(s);
}

/* What the file holds, read through a descriptor of its own. */
static void file_bytes(const char *path, uint64_t off, uint8_t *dst, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, dst, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* --- tests --------------------------------------------------------------- */

static void
test_flash_file__erase_then_write_writes_each_byte_once(void **state)
{
	static uint8_t pat[4 * UNIT], buf[4 * UNIT];
	struct fl_flash fl;
	struct fl_area a;
	struct spy s;
	char p[512];

	(void)state;
	open_dev(&fl, &a, &s, p, sizeof(p), 8);
	fill_pattern(pat, sizeof(pat), 1);
	/* The installer's pattern: erase a unit, program it, next unit. */
	for (unsigned u = 0; u < 4; u++) {
		assert_int_equal(fl_area_erase(&a, u * UNIT, UNIT), 0);
		assert_int_equal(
			fl_area_write(&a, u * UNIT, pat + u * UNIT, UNIT), 0);
	}
	assert_int_equal(s.pwrites, 0); /* all of it waits in memory */
	assert_int_equal(fl_area_sync(&a), 0);
	/* One write of the four units, then the sync; no erase written. */
	assert_string_equal(s.log, "ws");
	assert_int_equal(s.bytes_written, sizeof(pat));
	assert_int_equal(fl_area_read(&a, 0, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pat, sizeof(pat));
	file_bytes(p, 0, buf, sizeof(buf));
	assert_memory_equal(buf, pat, sizeof(pat));
	/* Units never erased keep their bytes. */
	file_bytes(p, 4 * UNIT, buf, UNIT);
	assert_true(all_equal(buf, UNIT, 0x5A));
	fl_flash_linux_close(&fl);
}

static void test_flash_file__small_writes_are_gathered(void **state)
{
	static uint8_t pat[FL_LINUX_WBUF_BYTES + 16 * 1024];
	static uint8_t buf[sizeof(pat)];
	const size_t piece = 16 * 1024;
	struct fl_flash fl;
	struct fl_area a;
	struct spy s;
	char p[512];

	(void)state;
	open_dev(&fl, &a, &s, p, sizeof(p), sizeof(pat) / UNIT);
	fill_pattern(pat, sizeof(pat), 7);
	/* libcurl's 16 KiB pieces: one write per FL_LINUX_WBUF_BYTES. */
	for (size_t off = 0; off < sizeof(pat); off += piece)
		assert_int_equal(
			fl_area_write(&a, (uint32_t)off, pat + off, piece), 0);
	assert_int_equal(fl_flash_linux__wait_idle(&fl), 0);
	assert_int_equal(s.pwrites, 1);
	assert_int_equal(s.bytes_written, FL_LINUX_WBUF_BYTES);
	/* A read of gathered bytes writes them out, then reads them. */
	assert_int_equal(fl_area_read(&a, 0, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pat, sizeof(pat));
	assert_int_equal(s.pwrites, 2);
	/* A write that does not continue the run writes the run out. */
	assert_int_equal(fl_area_write(&a, 0, pat, 100), 0);
	assert_int_equal(s.pwrites, 2);
	assert_int_equal(fl_area_write(&a, 50, pat + 200, 10), 0);
	assert_int_equal(fl_flash_linux__wait_idle(&fl), 0);
	assert_int_equal(s.pwrites, 3);
	fl_flash_linux_close(&fl); /* the close writes the last run out */
	assert_int_equal(s.pwrites, 4);
	file_bytes(p, 0, buf, 100);
	assert_memory_equal(buf, pat, 50);
	assert_memory_equal(buf + 50, pat + 200, 10);
	assert_memory_equal(buf + 60, pat + 60, 40);
}

static void
test_flash_file__rest_of_a_partly_written_unit_is_erased(void **state)
{
	uint8_t pat[100], buf[UNIT];
	struct fl_flash fl;
	struct fl_area a;
	struct spy s;
	char p[512];

	(void)state;
	open_dev(&fl, &a, &s, p, sizeof(p), 4);
	fill_pattern(pat, sizeof(pat), 2);
	assert_int_equal(fl_area_erase(&a, UNIT, UNIT), 0);
	assert_int_equal(fl_area_write(&a, UNIT, pat, sizeof(pat)), 0);
	/* The read sees the rest erased: both are written out first. */
	assert_int_equal(fl_area_read(&a, UNIT, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pat, sizeof(pat));
	assert_true(all_equal(buf + sizeof(pat), UNIT - sizeof(pat), 0xFF));
	assert_int_equal(s.bytes_written, UNIT);
	file_bytes(p, UNIT, buf, sizeof(buf));
	assert_memory_equal(buf, pat, sizeof(pat));
	assert_true(all_equal(buf + sizeof(pat), UNIT - sizeof(pat), 0xFF));
	/* A read beside what waits leaves it waiting. */
	assert_int_equal(fl_area_erase(&a, 2 * UNIT, UNIT), 0);
	assert_int_equal(fl_area_write(&a, 3 * UNIT, pat, sizeof(pat)), 0);
	spy_reset(&s);
	assert_int_equal(fl_area_read(&a, 0, buf, UNIT), 0);
	assert_true(all_equal(buf, UNIT, 0x5A));
	assert_int_equal(s.pwrites, 0);
	fl_flash_linux_close(&fl);
}

static void test_flash_file__sync_writes_out_before_syncing(void **state)
{
	uint8_t pat[64], buf[2 * UNIT];
	struct fl_flash fl;
	struct fl_area a;
	struct spy s;
	char p[512];

	(void)state;
	open_dev(&fl, &a, &s, p, sizeof(p), 4);
	fill_pattern(pat, sizeof(pat), 8);
	assert_int_equal(fl_area_erase(&a, UNIT, 2 * UNIT), 0);
	assert_int_equal(fl_area_write(&a, 0, pat, sizeof(pat)), 0);
	assert_int_equal(s.pwrites, 0); /* nothing written yet */
	assert_int_equal(fl_area_sync(&a), 0);
	assert_string_equal(s.log, "wws"); /* the erase, the bytes, the sync */
	file_bytes(p, UNIT, buf, sizeof(buf));
	assert_true(all_equal(buf, sizeof(buf), 0xFF));
	file_bytes(p, 0, buf, sizeof(pat));
	assert_memory_equal(buf, pat, sizeof(pat));
	/* Nothing waits after: another sync writes nothing. */
	spy_reset(&s);
	assert_int_equal(fl_area_sync(&a), 0);
	assert_string_equal(s.log, "s");
	fl_flash_linux_close(&fl);
}

/* A slot record: a unit erased, a few bytes written at its start, synced.
 * The sync writes them itself, and the rest of the unit: the thread, a
 * hand-over away, is not woken for it. */
static void test_flash_file__sync_writes_a_small_run_itself(void **state)
{
	uint8_t pat[144], buf[UNIT];
	struct fl_flash fl;
	struct fl_area a;
	struct spy s;
	char p[512];

	(void)state;
	open_dev(&fl, &a, &s, p, sizeof(p), 4);
	fill_pattern(pat, sizeof(pat), 9);
	assert_int_equal(fl_area_erase(&a, 2 * UNIT, UNIT), 0);
	assert_int_equal(fl_area_write(&a, 2 * UNIT, pat, sizeof(pat)), 0);
	assert_int_equal(fl_area_sync(&a), 0);
	assert_string_equal(s.log, "wws"); /* the bytes, the erase, the sync */
	assert_int_equal(s.thread_pwrites, 0);
	file_bytes(p, 2 * UNIT, buf, sizeof(buf));
	assert_memory_equal(buf, pat, sizeof(pat));
	assert_true(all_equal(buf + sizeof(pat), UNIT - sizeof(pat), 0xFF));
	fl_flash_linux_close(&fl);
}

static void test_flash_file__writes_and_erases_keep_their_order(void **state)
{
	uint8_t pat[32], buf[2 * UNIT];
	struct fl_flash fl;
	struct fl_area a;
	struct spy s;
	char p[512];

	(void)state;
	open_dev(&fl, &a, &s, p, sizeof(p), 4);
	fill_pattern(pat, sizeof(pat), 3);
	/* A write into the middle of an erase: the erase goes out first. */
	assert_int_equal(fl_area_erase(&a, 0, 2 * UNIT), 0);
	assert_int_equal(fl_area_write(&a, UNIT + 16, pat, sizeof(pat)), 0);
	assert_string_equal(s.log, "w");
	assert_int_equal(s.bytes_written, 2 * UNIT);
	assert_int_equal(fl_area_read(&a, 0, buf, sizeof(buf)), 0);
	assert_true(all_equal(buf, UNIT + 16, 0xFF));
	assert_memory_equal(buf + UNIT + 16, pat, sizeof(pat));
	assert_true(all_equal(buf + UNIT + 16 + sizeof(pat),
			      UNIT - 16 - sizeof(pat), 0xFF));
	/* A write that starts before an erase and runs into it does not take
	 * its bytes out from the front: the erase goes out first. */
	assert_int_equal(fl_area_erase(&a, 2 * UNIT, UNIT), 0);
	spy_reset(&s);
	assert_int_equal(fl_area_write(&a, 2 * UNIT - 16, pat, sizeof(pat)), 0);
	assert_string_equal(s.log, "w");
	assert_int_equal(fl_area_read(&a, 2 * UNIT - 16, buf, UNIT), 0);
	assert_memory_equal(buf, pat, sizeof(pat));
	assert_true(all_equal(buf + sizeof(pat), UNIT - sizeof(pat), 0xFF));
	/* An erase over written bytes: the bytes go out, then the erase. */
	assert_int_equal(fl_area_write(&a, 3 * UNIT, pat, sizeof(pat)), 0);
	spy_reset(&s);
	assert_int_equal(fl_area_erase(&a, 3 * UNIT, UNIT), 0);
	assert_int_equal(fl_flash_linux__wait_idle(&fl), 0);
	assert_string_equal(s.log, "w");
	assert_int_equal(fl_area_read(&a, 3 * UNIT, buf, UNIT), 0);
	assert_true(all_equal(buf, UNIT, 0xFF));
	fl_flash_linux_close(&fl);
}

static void test_flash_file__erases_merge_or_write_out_the_last(void **state)
{
	static uint8_t pat[3 * UNIT], buf[3 * UNIT];
	struct fl_flash fl;
	struct fl_area a;
	struct spy s;
	char p[512];

	(void)state;
	open_dev(&fl, &a, &s, p, sizeof(p), 8);
	fill_pattern(pat, sizeof(pat), 4);
	/* Adjacent and overlapping erases make one pending range. */
	assert_int_equal(fl_area_erase(&a, UNIT, UNIT), 0);
	assert_int_equal(fl_area_erase(&a, 0, UNIT), 0);
	assert_int_equal(fl_area_erase(&a, UNIT, 2 * UNIT), 0);
	assert_int_equal(fl_area_write(&a, 0, pat, sizeof(pat)), 0);
	assert_int_equal(fl_area_sync(&a), 0);
	assert_int_equal(s.bytes_written, sizeof(pat)); /* no 0xFF */
	/* An erase apart from the pending one writes that one out. */
	assert_int_equal(fl_area_erase(&a, 4 * UNIT, UNIT), 0);
	spy_reset(&s);
	assert_int_equal(fl_area_erase(&a, 6 * UNIT, UNIT), 0);
	assert_int_equal(s.bytes_written, UNIT);
	file_bytes(p, 4 * UNIT, buf, UNIT);
	assert_true(all_equal(buf, UNIT, 0xFF));
	file_bytes(p, 6 * UNIT, buf, UNIT);
	assert_true(all_equal(buf, UNIT, 0x5A)); /* still pending */
	file_bytes(p, 0, buf, sizeof(buf));
	assert_memory_equal(buf, pat, sizeof(pat));
	fl_flash_linux_close(&fl);
	/* The close writes the pending erase out. */
	file_bytes(p, 6 * UNIT, buf, UNIT);
	assert_true(all_equal(buf, UNIT, 0xFF));
}

static void test_flash_file__failed_write_out_is_reported_and_kept(void **state)
{
	static uint8_t big[2 * FL_LINUX_WBUF_BYTES];
	const struct fl_flash_linux_diag *e;
	uint8_t pat[64], buf[UNIT];
	struct fl_flash fl;
	struct fl_area a;
	struct spy s;
	char p[512];

	(void)state;
	open_dev(&fl, &a, &s, p, sizeof(p), 2 * FL_LINUX_WBUF_BYTES / UNIT);
	e = fl_flash_linux_last_error(&fl);
	fill_pattern(pat, sizeof(pat), 5);
	/* An erase: the sync that writes it out reports the failure. */
	assert_int_equal(fl_area_erase(&a, UNIT, UNIT), 0);
	s.pwrite_fail_at = 1;
	assert_int_equal(fl_area_sync(&a), FL_EIO);
	assert_int_equal(e->sys_errno, EIO);
	assert_non_null(strstr(e->msg, "write of 4096 bytes at 0x1000"));
	/* It stayed pending: the next sync writes it. */
	assert_int_equal(fl_area_sync(&a), 0);
	file_bytes(p, UNIT, buf, UNIT);
	assert_true(all_equal(buf, UNIT, 0xFF));

	/* Gathered bytes: the same. */
	assert_int_equal(fl_area_write(&a, 0, pat, sizeof(pat)), 0);
	spy_reset(&s);
	s.pwrite_fail_at = 1;
	assert_int_equal(fl_area_sync(&a), FL_EIO);
	assert_non_null(strstr(e->msg, "write of 64 bytes at 0"));
	assert_int_equal(fl_area_sync(&a), 0);
	file_bytes(p, 0, buf, sizeof(pat));
	assert_memory_equal(buf, pat, sizeof(pat));

	/* A read that cannot write out what it meets fails, reads nothing. */
	assert_int_equal(fl_area_erase(&a, 3 * UNIT, UNIT), 0);
	spy_reset(&s);
	s.pwrite_fail_at = 1;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(fl_area_read(&a, 3 * UNIT, buf, UNIT), FL_EIO);
	assert_true(all_equal(buf, UNIT, 0x00));
	/* Nor can an erase elsewhere, nor a write into its middle (which
	 * then writes nothing). */
	spy_reset(&s);
	s.pwrite_fail_at = 1;
	assert_int_equal(fl_area_erase(&a, 0, UNIT), FL_EIO);
	spy_reset(&s);
	s.pwrite_fail_at = 1;
	assert_int_equal(fl_area_write(&a, 3 * UNIT + 64, pat, sizeof(pat)),
			 FL_EIO);
	assert_int_equal(s.pwrites, 1);
	s.pwrite_fail_at = 0;
	assert_int_equal(fl_area_read(&a, 3 * UNIT, buf, UNIT), 0);
	assert_true(all_equal(buf, UNIT, 0xFF));

	/* A write too large for one buffer fails at once; the erase it
	 * started in stays whole: the bytes read back erased, not half
	 * written. */
	assert_int_equal(fl_area_sync(&a), 0);
	assert_int_equal(fl_area_erase(&a, 0, sizeof(big)), 0);
	spy_reset(&s);
	s.pwrite_fail_at = 1;
	assert_int_equal(fl_area_write(&a, 0, big, sizeof(big)), FL_EIO);
	s.pwrite_fail_at = 0;
	assert_int_equal(fl_area_read(&a, 0, buf, UNIT), 0);
	assert_true(all_equal(buf, UNIT, 0xFF));
	fl_flash_linux_close(&fl);
}

static void test_flash_file__thread_failure_is_reported_later(void **state)
{
	static uint8_t pat[4 * MIB], other[2 * MIB], buf[4 * MIB];
	const struct fl_flash_linux_diag *e;
	struct fl_flash fl;
	struct fl_area a;
	struct spy s;
	char p[512];

	(void)state;
	open_dev(&fl, &a, &s, p, sizeof(p), 5 * MIB / UNIT);
	e = fl_flash_linux_last_error(&fl);
	fill_pattern(pat, sizeof(pat), 9);
	/* The thread fails to write a full run: the write that handed it
	 * over has returned; the next call that waits for the thread
	 * reports it, once, and the one after writes it again. */
	s.pwrite_fail_at = 1;
	assert_int_equal(fl_area_write(&a, 0, pat, MIB), 0);
	assert_int_equal(fl_flash_linux__wait_idle(&fl), FL_EIO);
	assert_int_equal(e->sys_errno, EIO);
	assert_non_null(strstr(e->msg, "write of 1048576 bytes at 0"));
	assert_int_equal(fl_flash_linux__wait_idle(&fl), 0);
	assert_int_equal(s.pwrites, 2);
	file_bytes(p, 0, buf, MIB);
	assert_memory_equal(buf, pat, MIB);

	/* Failing again while more runs follow: they queue behind it until
	 * a write needs a buffer, and that write reports the failure and
	 * takes nothing. */
	spy_reset(&s);
	s.pwrite_fail_at = 1;
	for (unsigned i = 1; i < 4; i++)
		assert_int_equal(fl_area_write(&a, i * MIB, pat + i * MIB, MIB),
				 0);
	assert_int_equal(fl_area_write(&a, 4 * MIB, pat, 16), FL_EIO);
	assert_non_null(strstr(e->msg, "write of 1048576 bytes at 0x100000"));
	/* A sync writes all the runs, in order; the refused bytes are not
	 * there. */
	assert_int_equal(fl_area_sync(&a), 0);
	file_bytes(p, 0, buf, sizeof(buf));
	assert_memory_equal(buf, pat, sizeof(pat));
	file_bytes(p, 4 * MIB, buf, UNIT);
	assert_true(all_equal(buf, UNIT, 0x5A));

	/* A write larger than a buffer is made by the caller once the thread
	 * has written what it holds: it lands last. */
	fill_pattern(other, sizeof(other), 10);
	assert_int_equal(fl_area_write(&a, 0, pat, MIB), 0);
	assert_int_equal(fl_area_write(&a, 0, other, sizeof(other)), 0);
	assert_int_equal(fl_area_sync(&a), 0);
	file_bytes(p, 0, buf, sizeof(other));
	assert_memory_equal(buf, other, sizeof(other));
	fl_flash_linux_close(&fl);
}

static void test_flash_file__write_back_starts_every_few_mib(void **state)
{
	static uint8_t chunk[MIB];
	const uint32_t half = FL_LINUX_WRITEBACK_BYTES / 2;
	struct fl_flash fl;
	struct fl_area a;
	struct spy s;
	char p[512];
	unsigned units = 10 * MIB / UNIT;

	(void)state;
	_Static_assert(FL_LINUX_WRITEBACK_BYTES % MIB == 0 &&
			       FL_LINUX_WRITEBACK_BYTES / 2 <= MIB,
		       "the test writes half an interval from one chunk");
	open_dev(&fl, &a, &s, p, sizeof(p), units);
	fill_pattern(chunk, sizeof(chunk), 6);
	for (unsigned i = 0; i < 9; i++)
		assert_int_equal(fl_area_write(&a, i * MIB, chunk, MIB), 0);
	assert_int_equal(fl_flash_linux__wait_idle(&fl), 0);
	assert_int_equal(s.sfrs, 9 * MIB / FL_LINUX_WRITEBACK_BYTES);
	/* A sync starts the count again: half an interval before it and
	 * half after start nothing. */
	assert_int_equal(fl_area_write(&a, 0, chunk, half), 0);
	assert_int_equal(fl_area_sync(&a), 0);
	s.sfrs = 0;
	assert_int_equal(fl_area_write(&a, 0, chunk, half), 0);
	assert_int_equal(fl_area_sync(&a), 0);
	assert_int_equal(s.sfrs, 0);
	/* Its failure is only a hint lost: the writes succeed. */
	s.sfr_errno = EIO;
	for (uint32_t off = 0; off < FL_LINUX_WRITEBACK_BYTES; off += MIB)
		assert_int_equal(fl_area_write(&a, MIB + off, chunk, MIB), 0);
	assert_int_equal(fl_flash_linux__wait_idle(&fl), 0);
	assert_int_equal(s.sfrs, 1);
	assert_int_equal(fl_area_sync(&a), 0);
	fl_flash_linux_close(&fl);

	/* A table without it: no hint, the same writes. */
	open_dev(&fl, &a, &s, p, sizeof(p), units);
	s.sys.sync_file_range = NULL;
	for (unsigned i = 0; i < 9; i++)
		assert_int_equal(fl_area_write(&a, i * MIB, chunk, MIB), 0);
	assert_int_equal(fl_area_sync(&a), 0);
	assert_int_equal(s.sfrs, 0);
	fl_flash_linux_close(&fl);
}

static void test_flash_file__write_back_is_flushed_every_few_mib(void **state)
{
	static uint8_t chunk[MIB], buf[MIB];
	const unsigned runs = FL_LINUX_FLUSH_BYTES / MIB;
	struct fl_flash fl;
	struct fl_area a;
	struct spy s;
	char p[512], log[64];
	unsigned units = 3 * FL_LINUX_FLUSH_BYTES / UNIT;

	(void)state;
	_Static_assert(FL_LINUX_FLUSH_BYTES % MIB == 0 &&
			       FL_LINUX_FLUSH_BYTES >= 2 * MIB,
		       "the test writes the interval in whole MiB");
	open_dev(&fl, &a, &s, p, sizeof(p), units);
	fill_pattern(chunk, sizeof(chunk), 11);
	/* One interval short: nothing flushed. */
	for (unsigned i = 0; i + 1 < runs; i++)
		assert_int_equal(fl_area_write(&a, i * MIB, chunk, MIB), 0);
	assert_int_equal(fl_flash_linux__wait_idle(&fl), 0);
	assert_int_equal(syncs_of(&s, NULL, 0), 0);
	/* The run that completes it: one fdatasync, after the writes, and
	 * waiting for the thread waits for it too. */
	assert_int_equal(fl_area_write(&a, (runs - 1) * MIB, chunk, MIB), 0);
	assert_int_equal(fl_flash_linux__wait_idle(&fl), 0);
	assert_int_equal(syncs_of(&s, log, sizeof(log)), 1);
	assert_int_equal(log[runs], 's');
	assert_int_equal(strlen(log), runs + 1);
	/* The count starts again after it, and after a sync: half an
	 * interval before the sync and half after flush nothing. */
	for (unsigned i = 0; i < runs / 2; i++)
		assert_int_equal(
			fl_area_write(&a, (runs + i) * MIB, chunk, MIB), 0);
	assert_int_equal(fl_area_sync(&a), 0);
	assert_int_equal(syncs_of(&s, NULL, 0), 2); /* the sync's own */
	for (unsigned i = 0; i < runs - runs / 2; i++)
		assert_int_equal(
			fl_area_write(&a, (2 * runs + i) * MIB, chunk, MIB), 0);
	assert_int_equal(fl_flash_linux__wait_idle(&fl), 0);
	assert_int_equal(syncs_of(&s, NULL, 0), 2);
	/* The bytes are the file's, through the backend and beside it. */
	assert_int_equal(fl_area_read(&a, (runs - 1) * MIB, buf, MIB), 0);
	assert_memory_equal(buf, chunk, MIB);
	file_bytes(p, (2 * runs) * MIB, buf, MIB);
	assert_memory_equal(buf, chunk, MIB);
	fl_flash_linux_close(&fl);
}

static void test_flash_file__failed_flush_fails_the_next_sync(void **state)
{
	static uint8_t chunk[MIB];
	const unsigned runs = FL_LINUX_FLUSH_BYTES / MIB;
	const struct fl_flash_linux_diag *e;
	struct fl_flash fl;
	struct fl_area a;
	struct spy s;
	char p[512];

	(void)state;
	open_dev(&fl, &a, &s, p, sizeof(p), 2 * FL_LINUX_FLUSH_BYTES / UNIT);
	e = fl_flash_linux_last_error(&fl);
	fill_pattern(chunk, sizeof(chunk), 12);
	/* The flusher's fdatasync fails: nothing says so until the sync,
	 * whose own fdatasync works: the sync fails with the flusher's
	 * error, once (the kernel would not report it again). */
	s.sync_fail_at = 1;
	s.sync_errno = EIO;
	for (unsigned i = 0; i < runs; i++)
		assert_int_equal(fl_area_write(&a, i * MIB, chunk, MIB), 0);
	assert_int_equal(fl_flash_linux__wait_idle(&fl), 0);
	assert_int_equal(syncs_of(&s, NULL, 0), 1);
	assert_string_equal(e->msg, "");
	assert_int_equal(fl_area_write(&a, runs * MIB, chunk, 100), 0);
	assert_int_equal(fl_area_sync(&a), FL_EIO);
	assert_int_equal(syncs_of(&s, NULL, 0), 2);
	assert_int_equal(e->sys_errno, EIO);
	assert_non_null(strstr(e->msg, "fdatasync of the write-back"));
	assert_int_equal(fl_area_sync(&a), 0);

	/* Its own failure is reported as before, and takes the flusher's
	 * with it: one failure, one report. */
	spy_reset(&s);
	s.sync_fail_at = 1;
	s.sync_errno = ENOSPC;
	for (unsigned i = 0; i < runs; i++)
		assert_int_equal(fl_area_write(&a, i * MIB, chunk, MIB), 0);
	assert_int_equal(fl_flash_linux__wait_idle(&fl), 0);
	pthread_mutex_lock(&s.mu);
	s.sync_fail_at = 2;
	s.sync_errno = EIO;
	pthread_mutex_unlock(&s.mu);
	assert_int_equal(fl_area_sync(&a), FL_EIO);
	assert_int_equal(e->sys_errno, EIO);
	assert_null(strstr(e->msg, "write-back"));
	assert_non_null(strstr(e->msg, "fdatasync"));
	assert_int_equal(fl_area_sync(&a), 0);

	/* An interrupted flush is tried again, and is no failure. */
	spy_reset(&s);
	s.sync_fail_at = 1;
	s.sync_errno = EINTR;
	for (unsigned i = 0; i < runs; i++)
		assert_int_equal(fl_area_write(&a, i * MIB, chunk, MIB), 0);
	assert_int_equal(fl_flash_linux__wait_idle(&fl), 0);
	assert_int_equal(syncs_of(&s, NULL, 0), 2);
	assert_int_equal(fl_area_sync(&a), 0);
	fl_flash_linux_close(&fl);
}

static void test_flash_file__reads_are_flagged_cached(void **state)
{
	struct fl_flash fl;
	struct fl_area a;
	struct spy s;
	char p[512];

	(void)state;
	open_dev(&fl, &a, &s, p, sizeof(p), 2);
	assert_true(fl.ops->flags & FL_FLASH_READS_CACHED);
	fl_flash_linux_close(&fl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_flash_file__erase_then_write_writes_each_byte_once),
		cmocka_unit_test(test_flash_file__small_writes_are_gathered),
		cmocka_unit_test(
			test_flash_file__rest_of_a_partly_written_unit_is_erased),
		cmocka_unit_test(
			test_flash_file__sync_writes_out_before_syncing),
		cmocka_unit_test(
			test_flash_file__sync_writes_a_small_run_itself),
		cmocka_unit_test(
			test_flash_file__writes_and_erases_keep_their_order),
		cmocka_unit_test(
			test_flash_file__erases_merge_or_write_out_the_last),
		cmocka_unit_test(
			test_flash_file__failed_write_out_is_reported_and_kept),
		cmocka_unit_test(
			test_flash_file__thread_failure_is_reported_later),
		cmocka_unit_test(
			test_flash_file__write_back_starts_every_few_mib),
		cmocka_unit_test(
			test_flash_file__write_back_is_flushed_every_few_mib),
		cmocka_unit_test(
			test_flash_file__failed_flush_fails_the_next_sync),
		cmocka_unit_test(test_flash_file__reads_are_flagged_cached),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
