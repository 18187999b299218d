/*
 * file_store.c -- the agent's store port over one file: the persisted
 * state blob, saved atomically and power-safely.
 *
 * Method: save() writes the whole blob to PATH.tmp (created or truncated),
 * fsyncs it, renames it over PATH, and fsyncs the directory so that the
 * rename itself is durable. rename() replaces PATH atomically: after a
 * crash or a power cut at any point, PATH is the previous blob or the new
 * one, whole. load() reads only PATH, so a torn PATH.tmp never matters;
 * the next save truncates it. Every system call goes through a small table
 * so that tests can make each one fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fl/agent_linux.h"
#include "fl/err.h"

#define EINTR_MAX 64u

/* ---- the real system calls ------------------------------------------- */

static int real_open(void *ctx, const char *path, int flags, unsigned mode)
{
	(void)ctx;
	return open(path, flags, (mode_t)mode);
}

static int real_close(void *ctx, int fd)
{
	(void)ctx;
	return close(fd);
}

static ssize_t real_read(void *ctx, int fd, void *buf, size_t len)
{
	(void)ctx;
	return read(fd, buf, len);
}

static ssize_t real_write(void *ctx, int fd, const void *buf, size_t len)
{
	(void)ctx;
	return write(fd, buf, len);
}

static int real_fsync(void *ctx, int fd)
{
	(void)ctx;
	return fsync(fd);
}

static int real_rename(void *ctx, const char *from, const char *to)
{
	(void)ctx;
	return rename(from, to);
}

static int real_unlink(void *ctx, const char *path)
{
	(void)ctx;
	return unlink(path);
}

static const struct fl_file_store_sys real_sys = {
	FL_FILE_STORE_SYS_VERSION,
	NULL,
	real_open,
	real_close,
	real_read,
	real_write,
	real_fsync,
	real_rename,
	real_unlink,
};

static const struct fl_file_store_sys *sys_of(const struct fl_file_store *st)
{
	return st->sys != NULL ? st->sys : &real_sys;
}

/* ---- init ---------------------------------------------------------------- */

int fl_file_store_init_sys(struct fl_file_store *st, const char *path,
			   const struct fl_file_store_sys *sys)
{
	size_t n;

	if (st == NULL || path == NULL)
		return FL_EINVAL;
	n = strlen(path);
	if (n == 0 || n + sizeof(".tmp") > sizeof(st->path) ||
	    path[n - 1] == '/')
		return FL_EINVAL;
	if (sys != NULL && sys->version != FL_FILE_STORE_SYS_VERSION)
		return FL_EINVAL;
	memset(st, 0, sizeof(*st));
	memcpy(st->path, path, n + 1);
	st->sys = sys;
	return 0;
}

int fl_file_store_init(struct fl_file_store *st, const char *path)
{
	return fl_file_store_init_sys(st, path, NULL);
}

/* ---- load ---------------------------------------------------------------- */

static int load(void *ctx, uint8_t *buf, size_t cap, size_t *len)
{
	const struct fl_file_store *st = ctx;
	const struct fl_file_store_sys *s = sys_of(st);
	uint8_t extra;
	size_t got = 0;
	unsigned eintr = 0;
	int fd, rc = 0;

	if (st == NULL || (buf == NULL && cap > 0) || len == NULL)
		return FL_EINVAL;
	*len = 0;
	fd = s->open(s->ctx, st->path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return errno == ENOENT ? FL_ENOENT : FL_EIO;
	/* Read up to cap bytes, then one more to tell "exactly cap" from
	 * "larger". */
	for (;;) {
		void *dst = got < cap ? buf + got : &extra;
		size_t want = got < cap ? cap - got : 1;
		ssize_t n = s->read(s->ctx, fd, dst, want);

		if (n < 0 && errno == EINTR && ++eintr < EINTR_MAX)
			continue;
		if (n < 0) {
			rc = FL_EIO;
			break;
		}
		if (n == 0)
			break;
		if (got >= cap) {
			rc = FL_ETOOBIG;
			break;
		}
		got += (size_t)n;
		eintr = 0;
	}
	(void)s->close(s->ctx, fd);
	if (rc == 0)
		*len = got;
	return rc;
}

/* ---- save ---------------------------------------------------------------- */

static int write_all(const struct fl_file_store_sys *s, int fd,
		     const uint8_t *buf, size_t len)
{
	unsigned eintr = 0;

	while (len > 0) {
		ssize_t n = s->write(s->ctx, fd, buf, len);

		if (n < 0 && errno == EINTR && ++eintr < EINTR_MAX)
			continue;
		if (n <= 0)
			return FL_EIO;
		buf += n;
		len -= (size_t)n;
		eintr = 0;
	}
	return 0;
}

/* fsyncs the directory holding path, so that a rename in it is durable. */
static int sync_dir(const struct fl_file_store_sys *s, const char *path)
{
	char dir[FL_FILE_STORE_PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (slash == NULL) {
		dir[0] = '.';
		dir[1] = '\0';
	} else if (slash == path) {
		dir[0] = '/';
		dir[1] = '\0';
	} else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	fd = s->open(s->ctx, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return FL_EIO;
	rc = s->fsync(s->ctx, fd) == 0 ? 0 : FL_EIO;
	(void)s->close(s->ctx, fd);
	return rc;
}

static int save(void *ctx, const uint8_t *buf, size_t len)
{
	const struct fl_file_store *st = ctx;
	const struct fl_file_store_sys *s;
	char tmp[FL_FILE_STORE_PATH_MAX + sizeof(".tmp")];
	int fd, rc;

	if (st == NULL || (buf == NULL && len > 0))
		return FL_EINVAL;
	s = sys_of(st);
	snprintf(tmp, sizeof(tmp), "%s.tmp", st->path);
	fd = s->open(s->ctx, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		     0600);
	if (fd < 0)
		return FL_EIO;
	rc = write_all(s, fd, buf, len);
	if (rc == 0 && s->fsync(s->ctx, fd) != 0)
		rc = FL_EIO;
	if (s->close(s->ctx, fd) != 0 && rc == 0)
		rc = FL_EIO;
	if (rc == 0 && s->rename(s->ctx, tmp, st->path) != 0)
		rc = FL_EIO;
	if (rc != 0) {
		(void)s->unlink(s->ctx, tmp);
		return rc;
	}
	/* The new blob is in place; if the directory cannot be synced, a
	 * power cut may still bring the old one back: say so. */
	return sync_dir(s, st->path);
}

const struct fl_agent_store_ops fl_file_store_ops = {
	FL_AGENT_PORT_VERSION,
	"file",
	load,
	save,
};
