/*
 * flash_file.c -- a regular file or a block device as a flash device, the
 * system-call table and I/O loops both Linux backends use, and a file
 * mapped as the memory of the flash simulator.
 *
 * A file has no erase: erase sets the range to the erased value, so the
 * file backend behaves as NOR whose every byte can be programmed again (it
 * does not enforce the NOR rule; the simulator does). Durability is
 * fdatasync, which on a block device also flushes the device's write
 * cache.
 *
 * The file backend keeps erases and writes in memory until they must go
 * out ("the file backend's write-back" below): an image streamed into a
 * slot is then written once, in large writes, not erased with 0xFF first
 * and written again in the caller's small pieces; and the disk is set to
 * work early, so that a sync finds little left to write. Every call to the
 * kernel goes through a struct fl_flash_linux_sys so that tests reach each
 * failure path; every transfer is a loop that retries EINTR (a bounded number
 * of times in a row) and short transfers, and treats end of file as an I/O
 * error, since the size was checked at open.
 */
#define _FILE_OFFSET_BITS 64

#include "fl/flash_linux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl/err.h"
#include "flash_linux_priv.h"

/* --- the real system calls ------------------------------------------- */

static int real_open(void *ctx, const char *path, int flags, unsigned mode)
{
	return open(path, flags, (mode_t)mode);
}

static int real_close(void *ctx, int fd)
{
	return close(fd);
}

static int real_fstat(void *ctx, int fd, unsigned *type, uint64_t *size_bytes)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -1;
	*type = (unsigned)(st.st_mode & S_IFMT);
	*size_bytes = st.st_size > 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

static ssize_t real_pread(void *ctx, int fd, void *buf, size_t len,
			  uint64_t off)
{
	if (off > (uint64_t)INT64_MAX) {
		errno = EINVAL;
		return -1;
	}
	return pread(fd, buf, len, (off_t)off);
}

static ssize_t real_pwrite(void *ctx, int fd, const void *buf, size_t len,
			   uint64_t off)
{
	if (off > (uint64_t)INT64_MAX) {
		errno = EINVAL;
		return -1;
	}
	return pwrite(fd, buf, len, (off_t)off);
}

static int real_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}

static int real_fdatasync(void *ctx, int fd)
{
	return fdatasync(fd);
}

static int real_sync_file_range(void *ctx, int fd, uint64_t off, uint64_t len,
				unsigned flags)
{
	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX) {
		errno = EINVAL;
		return -1;
	}
	return sync_file_range(fd, (off_t)off, (off_t)len, flags);
}

static const struct fl_flash_linux_sys real_sys = {
	.version = FL_FLASH_LINUX_SYS_VERSION,
	.ctx = NULL,
	.open = real_open,
	.close = real_close,
	.fstat = real_fstat,
	.pread = real_pread,
	.pwrite = real_pwrite,
	.ioctl = real_ioctl,
	.fdatasync = real_fdatasync,
	.sync_file_range = real_sync_file_range,
};

const struct fl_flash_linux_sys *fl_flash_linux_sys_default(void)
{
	return &real_sys;
}

/* --- shared by both backends ------------------------------------------ */

/* strerror_r comes in a GNU flavour (glibc with _GNU_SOURCE) and an XSI
 * one (musl, the BSDs); the message is the same. */
static const char *errtext(int err, char *buf, size_t len)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	return strerror_r(err, buf, len);
#else
	if (strerror_r(err, buf, len) != 0)
		snprintf(buf, len, "error %d", err);
	return buf;
#endif
}

void fl_flash_linux__diag(struct fl_flash_linux_diag *d, int err,
			  const char *fmt, ...)
{
	char ebuf[128];
	va_list ap;
	int n;

	if (d == NULL)
		return;
	d->sys_errno = err;
	va_start(ap, fmt);
	n = vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	if (n < 0) {
		d->msg[0] = '\0';
		n = 0;
	}
	if (err != 0 && (size_t)n < sizeof(d->msg))
		snprintf(d->msg + n, sizeof(d->msg) - (size_t)n, ": %s",
			 errtext(err, ebuf, sizeof(ebuf)));
}

static void diag_clear(struct fl_flash_linux_diag *d)
{
	if (d != NULL) {
		d->sys_errno = 0;
		d->msg[0] = '\0';
	}
}

static int open_errno_to_fl(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR: return FL_ENOENT;
	case EISDIR: return FL_EINVAL;
	case ENOMEM: return FL_ENOMEM;
	default: return FL_EIO;
	}
}

int fl_flash_linux__open_fd(const struct fl_flash_linux_sys *sys,
			    const char *path, int flags, int *fd_out,
			    unsigned *type, uint64_t *size_bytes,
			    struct fl_flash_linux_diag *diag)
{
	int fd, err;

	*fd_out = -1;
	fd = sys->open(sys->ctx, path, flags | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = errno;
		fl_flash_linux__diag(diag, err, "%s: open", path);
		return open_errno_to_fl(err);
	}
	if (sys->fstat(sys->ctx, fd, type, size_bytes) != 0) {
		err = errno;
		fl_flash_linux__diag(diag, err, "%s: fstat", path);
		sys->close(sys->ctx, fd);
		return FL_EIO;
	}
	*fd_out = fd;
	return 0;
}

struct fl_linux_dev *
fl_flash_linux__dev_new(const struct fl_flash_linux_sys *sys, int fd,
			const char *path, size_t fill_len, uint8_t fill_value)
{
	struct fl_linux_dev *dev;

	dev = calloc(1, sizeof(*dev) + fill_len);
	if (dev == NULL)
		return NULL;
	dev->sys = sys;
	dev->fd = fd;
	snprintf(dev->path, sizeof(dev->path), "%s", path);
	dev->fill_len = fill_len;
	memset(dev->fill, fill_value, fill_len);
	return dev;
}

int fl_flash_linux__pread_full(const struct fl_flash_linux_sys *sys, int fd,
			       const char *path, uint64_t off, void *dst,
			       size_t len, struct fl_flash_linux_diag *diag)
{
	uint8_t *p = dst;
	unsigned eintr = 0;
	ssize_t n;

	while (len > 0) {
		n = sys->pread(sys->ctx, fd, p, len, off);
		if (n < 0 && errno == EINTR &&
		    ++eintr <= FL_FLASH_LINUX_EINTR_MAX)
			continue;
		if (n < 0) {
			fl_flash_linux__diag(
				diag, errno, "%s: read of %zu bytes at %#llx",
				path, len, (unsigned long long)off);
			return FL_EIO;
		}
		if (n == 0 || (size_t)n > len) {
			fl_flash_linux__diag(diag, 0,
					     "%s: read of %zu bytes at %#llx: "
					     "unexpected end of file",
					     path, len,
					     (unsigned long long)off);
			return FL_EIO;
		}
		eintr = 0;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int fl_flash_linux__pwrite_full(const struct fl_flash_linux_sys *sys, int fd,
				const char *path, uint64_t off, const void *src,
				size_t len, struct fl_flash_linux_diag *diag)
{
	const uint8_t *p = src;
	unsigned eintr = 0;
	ssize_t n;

	while (len > 0) {
		n = sys->pwrite(sys->ctx, fd, p, len, off);
		if (n < 0 && errno == EINTR &&
		    ++eintr <= FL_FLASH_LINUX_EINTR_MAX)
			continue;
		if (n < 0) {
			fl_flash_linux__diag(
				diag, errno, "%s: write of %zu bytes at %#llx",
				path, len, (unsigned long long)off);
			return FL_EIO;
		}
		if (n == 0 || (size_t)n > len) {
			/* A write that makes no progress would loop forever. */
			fl_flash_linux__diag(diag, 0,
					     "%s: write of %zu bytes at %#llx: "
					     "no progress",
					     path, len,
					     (unsigned long long)off);
			return FL_EIO;
		}
		eintr = 0;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes len bytes of the value held in buf (buf_len bytes of it). */
static int write_value(const struct fl_flash_linux_sys *sys, int fd,
		       const char *path, uint64_t off, uint64_t len,
		       const uint8_t *buf, size_t buf_len,
		       struct fl_flash_linux_diag *diag)
{
	size_t n;
	int rc;

	while (len > 0) {
		n = len < buf_len ? (size_t)len : buf_len;
		rc = fl_flash_linux__pwrite_full(sys, fd, path, off, buf, n,
						 diag);
		if (rc != 0)
			return rc;
		off += n;
		len -= n;
	}
	return 0;
}

int fl_flash_linux__read(struct fl_flash *fl, uint32_t off, void *dst,
			 size_t len)
{
	struct fl_linux_dev *dev = fl->priv;

	return fl_flash_linux__pread_full(dev->sys, dev->fd, dev->path, off,
					  dst, len, &dev->last);
}

int fl_flash_linux__write(struct fl_flash *fl, uint32_t off, const void *src,
			  size_t len)
{
	struct fl_linux_dev *dev = fl->priv;

	return fl_flash_linux__pwrite_full(dev->sys, dev->fd, dev->path, off,
					   src, len, &dev->last);
}

int fl_flash_linux__erase_by_write(struct fl_flash *fl, uint32_t off,
				   size_t len)
{
	struct fl_linux_dev *dev = fl->priv;

	return write_value(dev->sys, dev->fd, dev->path, off, len, dev->fill,
			   dev->fill_len, &dev->last);
}

static int file_flush(struct fl_linux_dev *dev);

static int is_ours(const struct fl_flash *fl)
{
	return fl != NULL && fl->priv != NULL &&
	       (fl->ops == &fl_flash_linux__file_ops ||
		fl->ops == &fl_flash_linux__mtd_ops);
}

void fl_flash_linux_close(struct fl_flash *fl)
{
	struct fl_linux_dev *dev;

	if (!is_ours(fl))
		return;
	dev = fl->priv;
	/* What waits in memory reaches the file as it would have without the
	 * write-back (though not durably: sync is the caller's durability
	 * point). Nothing useful can be done about a failure here, nor about
	 * a failed close: every other write was already reported. */
	if (fl->ops == &fl_flash_linux__file_ops)
		(void)file_flush(dev);
	dev->sys->close(dev->sys->ctx, dev->fd);
	free(dev->wbuf);
	free(dev);
	fl->ops = NULL;
	fl->priv = NULL;
}

const struct fl_flash_linux_diag *
fl_flash_linux_last_error(const struct fl_flash *fl)
{
	static const struct fl_flash_linux_diag none = {0, ""};
	const struct fl_linux_dev *dev;

	if (!is_ours(fl))
		return &none;
	dev = fl->priv;
	return &dev->last;
}

/* --- the file backend ---------------------------------------------------- */

/*
 * Method (the file backend's write-back): two things may wait in memory,
 * never overlapping: one erase (a range, erase_off and erase_len) and one
 * run of written bytes (wbuf_len bytes at wbuf_off, in wbuf). An erase
 * only records its range (one touching the pending erase widens it); a
 * write that starts where the pending erase starts takes its bytes out of
 * it, so a unit that is erased and then programmed whole -- the installer
 * erases each unit just before it writes into it -- is written once. A
 * write that continues the run is appended to it; a write as large as the
 * buffer goes straight to the file. Anything else that meets either -- a
 * read of its bytes, a write into the middle of the erase, a write or an
 * erase elsewhere, a sync, the close -- first writes it out. What a caller
 * can observe does not change: a read sees what was erased and written,
 * in order, and a sync makes all of it durable. What moves is the moment a
 * failure is reported: to the call that writes the bytes out (which then
 * stay pending). Before a sync, nothing was promised durable: a power cut
 * could always keep any part of what was erased or written since the last
 * one, and so can a kill now.
 */

/* Writes the erased value over the pending erase, if any. */
static int erase_flush(struct fl_linux_dev *dev)
{
	int rc;

	if (dev->erase_len == 0)
		return 0;
	rc = write_value(dev->sys, dev->fd, dev->path, dev->erase_off,
			 dev->erase_len, dev->fill, dev->fill_len, &dev->last);
	if (rc == 0)
		dev->erase_len = 0;
	return rc;
}

/* Starts the write-back of the file's dirty pages every
 * FL_LINUX_WRITEBACK_BYTES written: the disk then works while the image
 * still streams in. Only a hint: sync stays the durability point. */
static void writeback_hint(struct fl_linux_dev *dev, size_t len)
{
	const struct fl_flash_linux_sys *sys = dev->sys;

	dev->wb_bytes += len;
	if (dev->wb_bytes < FL_LINUX_WRITEBACK_BYTES ||
	    sys->sync_file_range == NULL)
		return;
	dev->wb_bytes = 0;
	(void)sys->sync_file_range(sys->ctx, dev->fd, 0, 0,
				   SYNC_FILE_RANGE_WRITE);
}

/* Writes src to the file now. */
static int write_now(struct fl_linux_dev *dev, uint64_t off, const void *src,
		     size_t len)
{
	int rc = fl_flash_linux__pwrite_full(dev->sys, dev->fd, dev->path, off,
					     src, len, &dev->last);

	if (rc == 0)
		writeback_hint(dev, len);
	return rc;
}

/* Writes the pending run of written bytes out, if any. */
static int wbuf_flush(struct fl_linux_dev *dev)
{
	int rc;

	if (dev->wbuf_len == 0)
		return 0;
	rc = write_now(dev, dev->wbuf_off, dev->wbuf, dev->wbuf_len);
	if (rc == 0)
		dev->wbuf_len = 0;
	return rc;
}

/* 1 if [off, off + len) shares a byte with [p_off, p_off + p_len). */
static int meets(uint64_t off, uint64_t len, uint64_t p_off, uint64_t p_len)
{
	return p_len != 0 && off < p_off + p_len && p_off < off + len;
}

static int file_read(struct fl_flash *fl, uint32_t off, void *dst, size_t len)
{
	struct fl_linux_dev *dev = fl->priv;
	int rc = 0;

	if (meets(off, len, dev->erase_off, dev->erase_len))
		rc = erase_flush(dev);
	if (rc == 0 && meets(off, len, dev->wbuf_off, dev->wbuf_len))
		rc = wbuf_flush(dev);
	return rc != 0 ? rc : fl_flash_linux__read(fl, off, dst, len);
}

static int file_write(struct fl_flash *fl, uint32_t off, const void *src,
		      size_t len)
{
	struct fl_linux_dev *dev = fl->priv;
	uint64_t end = (uint64_t)off + len;
	uint64_t erase_end = dev->erase_off + dev->erase_len;
	int is_erase = meets(off, len, dev->erase_off, dev->erase_len);
	int is_front = is_erase && off == dev->erase_off;
	int rc = 0;

	if (is_erase && !is_front)
		rc = erase_flush(dev);
	if (rc == 0 && dev->wbuf_len != 0 &&
	    (off != dev->wbuf_off + dev->wbuf_len ||
	     len > FL_LINUX_WBUF_BYTES - dev->wbuf_len))
		rc = wbuf_flush(dev); /* not a continuation, or too much */
	if (rc != 0)
		return rc;
	if (dev->wbuf_len == 0 && len >= FL_LINUX_WBUF_BYTES) {
		rc = write_now(dev, off, src, len);
		if (rc != 0)
			return rc; /* the whole erase stays pending */
	} else {
		if (dev->wbuf_len == 0)
			dev->wbuf_off = off;
		memcpy(dev->wbuf + dev->wbuf_len, src, len);
		dev->wbuf_len += len;
	}
	if (is_front) {
		/* The written bytes are no longer erased: the erase need not
		 * write them. */
		dev->erase_off = end < erase_end ? end : erase_end;
		dev->erase_len = erase_end - dev->erase_off;
	}
	return 0;
}

static int file_erase(struct fl_flash *fl, uint32_t off, size_t len)
{
	struct fl_linux_dev *dev = fl->priv;
	uint64_t end = (uint64_t)off + len;
	uint64_t erase_end = dev->erase_off + dev->erase_len;
	int rc;

	/* Written bytes it erases go out first: then the erase over them. */
	if (meets(off, len, dev->wbuf_off, dev->wbuf_len)) {
		rc = wbuf_flush(dev);
		if (rc != 0)
			return rc;
	}
	if (dev->erase_len != 0 && off <= erase_end && dev->erase_off <= end) {
		/* Overlapping or adjacent: one wider pending range. */
		if (off < dev->erase_off)
			dev->erase_off = off;
		if (end > erase_end)
			erase_end = end;
		dev->erase_len = erase_end - dev->erase_off;
		return 0;
	}
	rc = erase_flush(dev);
	if (rc != 0)
		return rc;
	dev->erase_off = off;
	dev->erase_len = len;
	return 0;
}

/* Writes out whatever waits in memory. */
static int file_flush(struct fl_linux_dev *dev)
{
	int rc = erase_flush(dev);

	return rc != 0 ? rc : wbuf_flush(dev);
}

static int file_sync(struct fl_flash *fl)
{
	struct fl_linux_dev *dev = fl->priv;
	unsigned eintr = 0;
	int rc;

	rc = file_flush(dev);
	if (rc != 0)
		return rc;
	dev->wb_bytes = 0;
	while (dev->sys->fdatasync(dev->sys->ctx, dev->fd) != 0) {
		if (errno == EINTR && ++eintr <= FL_FLASH_LINUX_EINTR_MAX)
			continue;
		fl_flash_linux__diag(&dev->last, errno, "%s: fdatasync",
				     dev->path);
		return FL_EIO;
	}
	return 0;
}

const struct fl_flash_ops fl_flash_linux__file_ops = {
	.version = FL_FLASH_OPS_VERSION,
	.name = "file",
	.read = file_read,
	.write = file_write,
	.erase = file_erase,
	.sync = file_sync,
	.flags = FL_FLASH_READS_CACHED,
};

/* Extends a regular file from have to want bytes of the erased value, and
 * makes the extension durable. */
static int extend(const struct fl_flash_linux_sys *sys, int fd,
		  const char *path, uint64_t have, uint64_t want,
		  uint8_t erased_value, struct fl_flash_linux_diag *diag)
{
	uint8_t buf[4096];
	unsigned eintr = 0;
	int rc;

	memset(buf, erased_value, sizeof(buf));
	rc = write_value(sys, fd, path, have, want - have, buf, sizeof(buf),
			 diag);
	if (rc != 0)
		return rc;
	while (sys->fdatasync(sys->ctx, fd) != 0) {
		if (errno == EINTR && ++eintr <= FL_FLASH_LINUX_EINTR_MAX)
			continue;
		fl_flash_linux__diag(diag, errno, "%s: fdatasync", path);
		return FL_EIO;
	}
	return 0;
}

int fl_flash_file_open(struct fl_flash *out, const char *path,
		       const struct fl_flash_geom *geom, uint32_t create_size,
		       struct fl_flash_linux_diag *diag)
{
	return fl_flash_file_open_sys(out, NULL, path, geom, create_size, diag);
}

int fl_flash_file_open_sys(struct fl_flash *out,
			   const struct fl_flash_linux_sys *sys,
			   const char *path, const struct fl_flash_geom *geom,
			   uint32_t create_size,
			   struct fl_flash_linux_diag *diag)
{
	struct fl_flash_geom g = {0, 4096, 1, 0xFF};
	struct fl_flash_geom units;
	struct fl_linux_dev *dev;
	uint64_t have = 0, want, blk = 0;
	unsigned type = 0;
	int fd = -1;
	int rc;

	diag_clear(diag);
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (sys == NULL)
		sys = &real_sys;
	if (out == NULL || path == NULL ||
	    sys->version != FL_FLASH_LINUX_SYS_VERSION) {
		fl_flash_linux__diag(diag, 0, "file flash: invalid argument");
		rc = FL_EINVAL;
		goto out;
	}
	if (geom != NULL)
		g = *geom;
	units = g;
	units.size_bytes = units.erase_bytes;
	if (fl_flash_geom_check(&units) != 0) {
		fl_flash_linux__diag(diag, 0,
				     "%s: bad geometry: erase unit %u, write "
				     "unit %u (powers of two, write <= erase)",
				     path, (unsigned)g.erase_bytes,
				     (unsigned)g.write_bytes);
		rc = FL_EINVAL;
		goto out;
	}

	rc = fl_flash_linux__open_fd(sys, path,
				     O_RDWR | (create_size != 0 ? O_CREAT : 0),
				     &fd, &type, &have, diag);
	if (rc != 0)
		goto out;
	if (type == S_IFBLK) {
		if (create_size != 0) {
			fl_flash_linux__diag(diag, 0,
					     "%s: a block device cannot be "
					     "created or extended",
					     path);
			rc = FL_EINVAL;
			goto out;
		}
		if (sys->ioctl(sys->ctx, fd, BLKGETSIZE64, &blk) != 0) {
			fl_flash_linux__diag(diag, errno, "%s: BLKGETSIZE64",
					     path);
			rc = FL_EIO;
			goto out;
		}
		have = blk;
	} else if (type != S_IFREG) {
		fl_flash_linux__diag(diag, 0,
				     "%s: not a regular file or a block device "
				     "(for /dev/mtdN use the MTD backend)",
				     path);
		rc = FL_EINVAL;
		goto out;
	}

	if (create_size != 0 && have < create_size) {
		rc = extend(sys, fd, path, have, create_size, g.erased_value,
			    diag);
		if (rc != 0)
			goto out;
		have = create_size;
	}

	if (g.size_bytes != 0) {
		want = g.size_bytes;
	} else if (create_size != 0) {
		want = create_size;
	} else {
		if (have > UINT32_MAX) {
			fl_flash_linux__diag(diag, 0,
					     "%s: %llu bytes is 4 GiB or more; "
					     "give an explicit size",
					     path, (unsigned long long)have);
			rc = FL_ETOOBIG;
			goto out;
		}
		want = have / g.erase_bytes * g.erase_bytes;
	}
	if (want == 0 || want > have) {
		fl_flash_linux__diag(
			diag, 0,
			"%s: %llu bytes, smaller than the %llu "
			"bytes asked (erase unit %u)",
			path, (unsigned long long)have,
			(unsigned long long)(want != 0 ? want : g.erase_bytes),
			(unsigned)g.erase_bytes);
		rc = FL_ENOSPC;
		goto out;
	}
	g.size_bytes = (uint32_t)want;
	if (fl_flash_geom_check(&g) != 0) {
		fl_flash_linux__diag(diag, 0,
				     "%s: size %u is not a multiple of the "
				     "erase unit %u",
				     path, (unsigned)g.size_bytes,
				     (unsigned)g.erase_bytes);
		rc = FL_EINVAL;
		goto out;
	}

	/* A deferred erase may span many units: write it in big pieces. */
	dev = fl_flash_linux__dev_new(sys, fd, path, FL_LINUX_FILL_MAX,
				      g.erased_value);
	if (dev != NULL) {
		dev->wbuf = malloc(FL_LINUX_WBUF_BYTES);
		if (dev->wbuf == NULL) {
			free(dev);
			dev = NULL;
		}
	}
	if (dev == NULL) {
		fl_flash_linux__diag(diag, ENOMEM, "%s: device state", path);
		rc = FL_ENOMEM;
		goto out;
	}
	out->ops = &fl_flash_linux__file_ops;
	out->geom = g;
	out->priv = dev;
	fd = -1; /* owned by dev now */
	rc = 0;
out:
	if (fd >= 0)
		sys->close(sys->ctx, fd);
	return rc;
}

/* --- a file as simulator memory ----------------------------------------- */

/* Makes a rename in path's directory durable. EINVAL: the file system
 * cannot sync a directory, and there is nothing more to do. */
static int sync_parent_dir(const char *path, struct fl_flash_linux_diag *diag)
{
	char dir[4096];
	char *slash;
	int fd, rc = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fl_flash_linux__diag(diag, errno, "%s: open directory", dir);
		return FL_EIO;
	}
	if (fsync(fd) != 0 && errno != EINVAL) {
		fl_flash_linux__diag(diag, errno, "%s: fsync directory", dir);
		rc = FL_EIO;
	}
	close(fd);
	return rc;
}

/* Creates path as size bytes of erased_value, atomically; returns the open
 * descriptor in *fd_out. */
static int create_erased(const char *path, uint32_t size, uint8_t erased_value,
			 int *fd_out, struct fl_flash_linux_diag *diag)
{
	const struct fl_flash_linux_sys *sys = &real_sys;
	char tmp[4096];
	uint8_t buf[4096];
	int fd = -1, rc, n;

	*fd_out = -1;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		fl_flash_linux__diag(diag, 0, "simulator file: path too long");
		return FL_ETOOBIG;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fl_flash_linux__diag(diag, errno, "%s: create", tmp);
		return FL_EIO;
	}
	memset(buf, erased_value, sizeof(buf));
	rc = write_value(sys, fd, tmp, 0, size, buf, sizeof(buf), diag);
	if (rc != 0)
		goto out;
	if (fdatasync(fd) != 0) {
		fl_flash_linux__diag(diag, errno, "%s: fdatasync", tmp);
		rc = FL_EIO;
		goto out;
	}
	if (rename(tmp, path) != 0) {
		fl_flash_linux__diag(diag, errno, "%s: rename to %s", tmp,
				     path);
		rc = FL_EIO;
		goto out;
	}
	rc = sync_parent_dir(path, diag);
	if (rc != 0)
		goto out;
	*fd_out = fd;
	fd = -1;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	return rc;
}

int fl_flash_sim_map_file(const char *path, uint32_t size, uint8_t erased_value,
			  uint8_t **mem_out, struct fl_flash_linux_diag *diag)
{
	unsigned type = 0;
	uint64_t have = 0;
	void *mem;
	int fd = -1, rc, err;

	diag_clear(diag);
	if (mem_out != NULL)
		*mem_out = NULL;
	if (path == NULL || mem_out == NULL || size == 0) {
		fl_flash_linux__diag(diag, 0,
				     "simulator file: invalid argument");
		rc = FL_EINVAL;
		goto out;
	}
	rc = fl_flash_linux__open_fd(&real_sys, path, O_RDWR, &fd, &type, &have,
				     diag);
	if (rc == FL_ENOENT) {
		diag_clear(diag);
		rc = create_erased(path, size, erased_value, &fd, diag);
		if (rc != 0)
			goto out;
		type = S_IFREG;
		have = size;
	}
	if (rc != 0)
		goto out;
	if (type != S_IFREG) {
		fl_flash_linux__diag(diag, 0, "%s: not a regular file", path);
		rc = FL_EINVAL;
		goto out;
	}
	if (have != size) {
		fl_flash_linux__diag(diag, 0,
				     "%s: %llu bytes, but the simulated device "
				     "is %u bytes; refusing to resize it "
				     "(remove the file to start afresh)",
				     path, (unsigned long long)have,
				     (unsigned)size);
		rc = FL_EINVAL;
		goto out;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		err = errno;
		fl_flash_linux__diag(diag, err, "%s: mmap of %u bytes", path,
				     (unsigned)size);
		rc = err == ENOMEM ? FL_ENOMEM : FL_EIO;
		goto out;
	}
	*mem_out = mem;
	rc = 0;
out:
	if (fd >= 0)
		close(fd); /* the mapping keeps the file */
	return rc;
}

void fl_flash_sim_unmap(uint8_t *mem, uint32_t size)
{
	if (mem == NULL)
		return;
	(void)msync(mem, size, MS_SYNC);
	munmap(mem, size);
}
