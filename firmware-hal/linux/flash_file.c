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
 * work early, so that a sync finds little left to write. The large writes
 * are made by a thread of the device's own while the caller goes on ("the
 * write-back thread" below), and a second one makes them durable every few
 * MiB ("the flusher"): what a sync at the end of an image waits for is
 * then the last few MiB, not the whole image leaving the disk's write
 * cache. On the virtual disk this was measured on, the device's cache
 * flush costs about 0.5 ms per MiB written since the last one, whether
 * the pages went out early (sync_file_range), late, or with O_DIRECT:
 * starting the write-back earlier, or waiting for ranges of it, does not
 * shorten that flush; only flushing earlier does. Every call to the
 * kernel goes through a struct fl_flash_linux_sys so that tests reach
 * each failure path; every transfer is a loop that retries EINTR (a
 * bounded number of times in a row) and short transfers, and treats end
 * of file as an I/O error, since the size was checked at open.
 */
#define _FILE_OFFSET_BITS 64

#include "fl/flash_linux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
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
static void wq_stop(struct fl_linux_dev *dev);

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
	if (dev->wq != NULL)
		wq_stop(dev);
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
 * run of written bytes being gathered (wbuf_len bytes at wbuf_off, in
 * wbuf). An erase only records its range (one touching the pending erase
 * widens it); a write that starts where the pending erase starts takes its
 * bytes out of it, so a unit that is erased and then programmed whole --
 * the installer erases each unit just before it writes into it -- is
 * written once. A write that continues the run is appended to it. Anything
 * else that meets either -- a read of its bytes, a write into the middle
 * of the erase, a write or an erase elsewhere, a sync, the close -- first
 * writes it out. What a caller can observe does not change: a read sees
 * what was erased and written, in order, and a sync makes all of it
 * durable. What moves is the moment a failure is reported: to a later call
 * (the one that writes the bytes out, or one after it), and the bytes then
 * stay pending. Before a sync, nothing was promised durable: a power cut
 * could always keep any part of what was erased or written since the last
 * one, and so can a kill now.
 *
 * Method (the write-back thread): a full run is not written by the caller
 * but handed to a thread of the device's own (struct fl_linux_wq), which
 * writes the runs in the order they were handed over and starts the disk's
 * write-back, while the caller gathers the next run in another buffer: the
 * copy into the page cache then overlaps what the caller does between
 * writes (receiving and hashing the image). The queue is bounded
 * (FL_LINUX_WQ_BUFS buffers); a caller that needs a buffer while all are
 * queued waits for the thread. The caller itself touches the file only
 * when the thread is idle (it waits for the queue to empty before any read,
 * erase write-out, sync or direct write), so its system calls never run
 * at once with the thread's (nor the flusher's, below) and runs, erases
 * and reads keep their order. A write the thread fails stays at the head
 * of the queue and stops it; the next call that needs the thread (one that
 * waits for a buffer or for the queue to empty) reports it as its own
 * FL_EIO with the diagnostic, and the one after tries it again. A write
 * of at most FL_LINUX_WBUF_BYTES takes all of its bytes or none (it waits
 * for the buffer its tail needs before copying anything); a larger one is
 * written by the caller, after the queue, as before. A sync (or the close)
 * writes the run being gathered itself, once the queue is empty: it would
 * wait for the thread anyway, and a hand-over costs two thread switches
 * (a slot record written and synced before an image's first byte was
 * 0.7-4 ms under load). Without the thread (it could not be started), the
 * caller writes each run itself.
 *
 * Method (the flusher): every FL_LINUX_FLUSH_BYTES the thread wrote, it
 * marks a flush due, and a second thread of the device's own, the flusher,
 * calls fdatasync while the thread goes on writing the next runs into the
 * page cache and the caller gathers more: the disk then writes the image
 * out of its cache as it arrives. Flushes never queue up: what the thread
 * writes during one counts towards the next, which is due at once if that
 * reached FL_LINUX_FLUSH_BYTES (so a slow disk gets fewer, larger ones).
 * The thread's writes and the flusher's fdatasync are the only system
 * calls that run at once; the caller's wait for the thread to be idle
 * (before a read, a sync, ...) also waits for a due flush. Such a flush is
 * a head start, not a promise: sync stays the durability point. But its
 * failure is not only a hint lost: the kernel reports a write-back error
 * to the first fdatasync after it, which was the flusher's, so the
 * flusher keeps it and the next sync returns it as its own FL_EIO, with
 * the diagnostic, once. Measured alternatives (the ranged waits of
 * sync_file_range in the thread, O_DIRECT writes) left the final sync as
 * long as before: what it waited for was the device's cache, not the page
 * cache. A flush made by the thread itself, between writes, stalled the
 * caller for lack of free buffers.
 */

struct fl_linux_wq {
	pthread_t thread;
	pthread_t flusher;
	pthread_mutex_t mu;
	pthread_cond_t has_work;  /* the thread waits for it */
	pthread_cond_t has_room;  /* callers wait for it: a run written */
	pthread_cond_t has_flush; /* the flusher waits for it */
	uint8_t *buf[FL_LINUX_WQ_BUFS];
	uint64_t off[FL_LINUX_WQ_BUFS];
	size_t len[FL_LINUX_WQ_BUFS];
	/* Queued: buf[head], ... buf[head + count - 1] (mod FL_LINUX_WQ_BUFS);
	 * buf[head + count] is dev->wbuf, the run being gathered. */
	unsigned head, count;
	int err; /* the head's write failed: the thread waits */
	struct fl_flash_linux_diag diag; /* of err */
	/* Bytes the thread wrote since the last flush began (or sync); a
	 * flush is due (set by the thread, cleared by the flusher when it
	 * is done) once they reach FL_LINUX_FLUSH_BYTES. */
	uint64_t unflushed;
	int is_flush_due;
	int flush_err; /* the flusher's fdatasync failed: the next sync's */
	struct fl_flash_linux_diag flush_diag; /* of flush_err */
	int is_stopping;
};

/* Writes the erased value over the pending erase, if any. */
static int erase_flush(struct fl_linux_dev *dev);

/* fdatasync, retrying EINTR (up to FL_FLASH_LINUX_EINTR_MAX in a row).
 * Returns 0 or FL_EIO with *diag filled ("PATH: WHAT: strerror"). */
static int fdatasync_full(const struct fl_flash_linux_sys *sys, int fd,
			  const char *path, const char *what,
			  struct fl_flash_linux_diag *diag)
{
	unsigned eintr = 0;

	while (sys->fdatasync(sys->ctx, fd) != 0) {
		if (errno == EINTR && ++eintr <= FL_FLASH_LINUX_EINTR_MAX)
			continue;
		fl_flash_linux__diag(diag, errno, "%s: %s", path, what);
		return FL_EIO;
	}
	return 0;
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

static void *wq_thread(void *arg)
{
	struct fl_linux_dev *dev = arg;
	struct fl_linux_wq *q = dev->wq;
	struct fl_flash_linux_diag d;
	unsigned i;
	int rc;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->is_stopping && (q->count == 0 || q->err != 0))
			pthread_cond_wait(&q->has_work, &q->mu);
		if (q->is_stopping)
			break;
		/* The caller neither changes a queued run nor calls the
		 * system until the queue is empty and no flush is due. */
		i = q->head;
		pthread_mutex_unlock(&q->mu);
		rc = fl_flash_linux__pwrite_full(dev->sys, dev->fd, dev->path,
						 q->off[i], q->buf[i],
						 q->len[i], &d);
		if (rc == 0)
			writeback_hint(dev, q->len[i]);
		pthread_mutex_lock(&q->mu);
		if (rc != 0) {
			q->err = rc;
			q->diag = d;
		} else {
			q->head = (i + 1) % FL_LINUX_WQ_BUFS;
			q->count--;
			q->unflushed += q->len[i];
			if (!q->is_flush_due &&
			    q->unflushed >= FL_LINUX_FLUSH_BYTES) {
				q->is_flush_due = 1;
				pthread_cond_signal(&q->has_flush);
			}
		}
		pthread_cond_broadcast(&q->has_room);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* The flusher: a fdatasync each time one is due, while the thread goes on
 * writing. Only it and the thread's writes run at once: the caller waits
 * for both to be idle before its own system calls. */
static void *wq_flusher(void *arg)
{
	struct fl_linux_dev *dev = arg;
	struct fl_linux_wq *q = dev->wq;
	struct fl_flash_linux_diag d;
	int rc;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->is_stopping && !q->is_flush_due)
			pthread_cond_wait(&q->has_flush, &q->mu);
		if (q->is_stopping)
			break;
		q->unflushed = 0; /* what the thread writes from now on
				   * counts towards the next flush */
		pthread_mutex_unlock(&q->mu);
		rc = fdatasync_full(dev->sys, dev->fd, dev->path,
				    "fdatasync of the write-back", &d);
		pthread_mutex_lock(&q->mu);
		if (rc != 0 && q->flush_err == 0) {
			q->flush_err = rc;
			q->flush_diag = d;
		}
		q->is_flush_due = q->unflushed >= FL_LINUX_FLUSH_BYTES;
		pthread_cond_broadcast(&q->has_room);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* The thread's failure, if any, as this call's: FL_EIO with the diagnostic
 * in dev->last. What failed stays queued. With q->mu held. */
static int wq_take_error(struct fl_linux_dev *dev)
{
	struct fl_linux_wq *q = dev->wq;
	int rc = q->err;

	if (rc != 0) {
		dev->last = q->diag;
		q->err = 0;
	}
	return rc;
}

/* Waits until fewer than below runs are queued. Returns 0, or the thread's
 * failure. With q->mu held. */
static int wq_wait_locked(struct fl_linux_dev *dev, unsigned below)
{
	struct fl_linux_wq *q = dev->wq;
	int rc;

	for (;;) {
		rc = wq_take_error(dev);
		if (rc != 0 || q->count < below)
			return rc;
		/* Wakes a thread that waits after a failure reported
		 * earlier: it tries that write again. */
		pthread_cond_signal(&q->has_work);
		pthread_cond_wait(&q->has_room, &q->mu);
	}
}

/* Waits until the thread has written everything queued: from then on the
 * caller may call the system. 0 without a thread. */
static int wq_wait(struct fl_linux_dev *dev)
{
	struct fl_linux_wq *q = dev->wq;
	int rc;

	if (q == NULL)
		return 0;
	pthread_mutex_lock(&q->mu);
	rc = wq_wait_locked(dev, 1);
	while (rc == 0 && q->is_flush_due)
		pthread_cond_wait(&q->has_room, &q->mu);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* Queues the run being gathered (there is a free buffer: the caller made
 * sure) and gathers into the next buffer. With q->mu held. */
static void wq_push_locked(struct fl_linux_dev *dev)
{
	struct fl_linux_wq *q = dev->wq;
	unsigned i = (q->head + q->count) % FL_LINUX_WQ_BUFS;

	q->off[i] = dev->wbuf_off;
	q->len[i] = dev->wbuf_len;
	q->count++;
	dev->wbuf = q->buf[(i + 1) % FL_LINUX_WQ_BUFS];
	dev->wbuf_len = 0;
	pthread_cond_signal(&q->has_work);
}

/* Waits for a free buffer, then queues the run being gathered. Returns 0,
 * or the thread's failure (the run then stays gathered). */
static int wq_submit(struct fl_linux_dev *dev)
{
	struct fl_linux_wq *q = dev->wq;
	int rc;

	pthread_mutex_lock(&q->mu);
	rc = wq_wait_locked(dev, FL_LINUX_WQ_BUFS - 1);
	if (rc == 0)
		wq_push_locked(dev);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* Appends len (<= FL_LINUX_WBUF_BYTES) bytes that continue the run (or
 * start one), handing a full buffer to the thread. All or nothing: the
 * buffer a tail needs is waited for before anything is copied (only the
 * thread frees buffers, so it stays free). The thread never touches the
 * buffer being gathered: the copies are made without the lock. */
static int wq_write(struct fl_linux_dev *dev, uint64_t off, const uint8_t *src,
		    size_t len)
{
	struct fl_linux_wq *q = dev->wq;
	size_t room = FL_LINUX_WBUF_BYTES - dev->wbuf_len;
	size_t n = len < room ? len : room;
	int rc;

	if (n < len) {
		pthread_mutex_lock(&q->mu);
		rc = wq_wait_locked(dev, FL_LINUX_WQ_BUFS - 1);
		pthread_mutex_unlock(&q->mu);
		if (rc != 0)
			return rc;
	}
	if (dev->wbuf_len == 0)
		dev->wbuf_off = off;
	memcpy(dev->wbuf + dev->wbuf_len, src, n);
	dev->wbuf_len += n;
	if (n < len) {
		pthread_mutex_lock(&q->mu);
		wq_push_locked(dev);
		pthread_mutex_unlock(&q->mu);
		dev->wbuf_off = off + n;
		memcpy(dev->wbuf, src + n, len - n);
		dev->wbuf_len = len - n;
	}
	if (dev->wbuf_len == FL_LINUX_WBUF_BYTES) {
		/* To the thread now if a buffer is free (else with the next
		 * write, which waits for one). */
		pthread_mutex_lock(&q->mu);
		if (q->count < FL_LINUX_WQ_BUFS - 1)
			wq_push_locked(dev);
		pthread_mutex_unlock(&q->mu);
	}
	return 0;
}

/* Writes src to the file now, after whatever the thread holds. */
static int write_now(struct fl_linux_dev *dev, uint64_t off, const void *src,
		     size_t len)
{
	int rc = wq_wait(dev);

	if (rc == 0)
		rc = fl_flash_linux__pwrite_full(dev->sys, dev->fd, dev->path,
						 off, src, len, &dev->last);
	if (rc == 0)
		writeback_hint(dev, len);
	return rc;
}

/* Writes the run being gathered out, if any: hands it to the thread, or
 * without one writes it. */
static int wbuf_flush(struct fl_linux_dev *dev)
{
	int rc;

	if (dev->wbuf_len == 0)
		return 0;
	if (dev->wq != NULL)
		return wq_submit(dev);
	rc = write_now(dev, dev->wbuf_off, dev->wbuf, dev->wbuf_len);
	if (rc == 0)
		dev->wbuf_len = 0;
	return rc;
}

static int erase_flush(struct fl_linux_dev *dev)
{
	int rc;

	if (dev->erase_len == 0)
		return 0;
	rc = wq_wait(dev);
	if (rc == 0)
		rc = write_value(dev->sys, dev->fd, dev->path, dev->erase_off,
				 dev->erase_len, dev->fill, dev->fill_len,
				 &dev->last);
	if (rc == 0)
		dev->erase_len = 0;
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
	if (rc == 0)
		rc = wq_wait(dev);
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
	int is_queued = dev->wq != NULL && len <= FL_LINUX_WBUF_BYTES;
	int rc = 0;

	if (is_erase && !is_front)
		rc = erase_flush(dev);
	if (rc == 0 && dev->wbuf_len != 0 &&
	    (off != dev->wbuf_off + dev->wbuf_len ||
	     (!is_queued && len > FL_LINUX_WBUF_BYTES - dev->wbuf_len)))
		rc = wbuf_flush(dev); /* not a continuation, or too much */
	if (rc != 0)
		return rc;
	if (is_queued) {
		rc = wq_write(dev, off, src, len);
		if (rc != 0)
			return rc;
	} else if (dev->wbuf_len == 0 && len >= FL_LINUX_WBUF_BYTES) {
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

	/* Written bytes it erases go out first (to the thread, whose runs
	 * are written before any erase is): then the erase over them. */
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

/* Writes out whatever waits in memory or in the thread: the thread's runs
 * first, then the run being gathered, written by the caller itself (it
 * waits for it anyway: handing it to the thread would only add two thread
 * switches, which under load cost milliseconds), then the erase. */
static int file_flush(struct fl_linux_dev *dev)
{
	int rc = wq_wait(dev);

	if (rc == 0 && dev->wbuf_len != 0) {
		rc = write_now(dev, dev->wbuf_off, dev->wbuf, dev->wbuf_len);
		if (rc == 0)
			dev->wbuf_len = 0;
	}
	return rc != 0 ? rc : erase_flush(dev);
}

static int file_sync(struct fl_flash *fl)
{
	struct fl_linux_dev *dev = fl->priv;
	struct fl_linux_wq *q = dev->wq;
	int rc;

	rc = file_flush(dev);
	if (rc != 0)
		return rc;
	dev->wb_bytes = 0;
	rc = fdatasync_full(dev->sys, dev->fd, dev->path, "fdatasync",
			    &dev->last);
	if (q == NULL)
		return rc;
	/* A failed flush of the flusher is this sync's failure: the kernel
	 * reports a write-back error to one fdatasync only, and that one was
	 * the flusher's. Reported once, as any other. */
	pthread_mutex_lock(&q->mu);
	if (q->flush_err != 0 && rc == 0) {
		rc = q->flush_err;
		dev->last = q->flush_diag;
	}
	q->flush_err = 0;
	q->unflushed = 0;
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int fl_flash_linux__wait_idle(struct fl_flash *fl)
{
	struct fl_linux_dev *dev;
	int rc = 0;

	if (fl == NULL || fl->ops != &fl_flash_linux__file_ops)
		return FL_EINVAL;
	dev = fl->priv;
	/* A full run waits only for a free buffer: it counts as handed over. */
	if (dev->wq != NULL && dev->wbuf_len == FL_LINUX_WBUF_BYTES)
		rc = wq_submit(dev);
	return rc != 0 ? rc : wq_wait(dev);
}

/* Stops the thread and, with is_flusher, the flusher: whatever they still
 * hold is dropped (the caller flushed first). */
static void wq_join(struct fl_linux_wq *q, int is_flusher)
{
	pthread_mutex_lock(&q->mu);
	q->is_stopping = 1;
	pthread_cond_signal(&q->has_work);
	pthread_cond_signal(&q->has_flush);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	if (is_flusher)
		pthread_join(q->flusher, NULL);
}

/* Starts the write-back thread of dev (whose wbuf becomes its first
 * buffer), with every signal blocked in it. Returns 0 or FL_ENOMEM (dev is
 * then unchanged: its caller writes every run itself). */
static int wq_start(struct fl_linux_dev *dev)
{
	struct fl_linux_wq *q;
	sigset_t all, old;
	int rc = FL_ENOMEM;

	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return FL_ENOMEM;
	q->buf[0] = dev->wbuf;
	for (unsigned i = 1; i < FL_LINUX_WQ_BUFS; i++) {
		q->buf[i] = malloc(FL_LINUX_WBUF_BYTES);
		if (q->buf[i] == NULL)
			goto out;
	}
	/* Touched now, so that the first image does not pay a page fault
	 * for every 4 KiB of them. */
	for (unsigned i = 0; i < FL_LINUX_WQ_BUFS; i++)
		memset(q->buf[i], 0, FL_LINUX_WBUF_BYTES);
	if (pthread_mutex_init(&q->mu, NULL) != 0)
		goto out;
	if (pthread_cond_init(&q->has_work, NULL) != 0)
		goto out_mu;
	if (pthread_cond_init(&q->has_room, NULL) != 0)
		goto out_work;
	if (pthread_cond_init(&q->has_flush, NULL) != 0)
		goto out_room;
	dev->wq = q;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&q->thread, NULL, wq_thread, dev) == 0) {
		if (pthread_create(&q->flusher, NULL, wq_flusher, dev) == 0)
			rc = 0;
		else
			wq_join(q, 0);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		return 0;
	dev->wq = NULL;
	pthread_cond_destroy(&q->has_flush);
out_room:
	pthread_cond_destroy(&q->has_room);
out_work:
	pthread_cond_destroy(&q->has_work);
out_mu:
	pthread_mutex_destroy(&q->mu);
out:
	for (unsigned i = 1; i < FL_LINUX_WQ_BUFS; i++)
		free(q->buf[i]);
	free(q);
	return rc;
}

/* Stops the thread (whatever it still holds is dropped: the caller
 * flushed first) and frees its buffers, dev->wbuf among them. */
static void wq_stop(struct fl_linux_dev *dev)
{
	struct fl_linux_wq *q = dev->wq;

	wq_join(q, 1);
	pthread_cond_destroy(&q->has_flush);
	pthread_cond_destroy(&q->has_room);
	pthread_cond_destroy(&q->has_work);
	pthread_mutex_destroy(&q->mu);
	for (unsigned i = 0; i < FL_LINUX_WQ_BUFS; i++)
		free(q->buf[i]);
	free(q);
	dev->wq = NULL;
	dev->wbuf = NULL;
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
	int rc;

	memset(buf, erased_value, sizeof(buf));
	rc = write_value(sys, fd, path, have, want - have, buf, sizeof(buf),
			 diag);
	return rc != 0 ? rc : fdatasync_full(sys, fd, path, "fdatasync", diag);
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
	/* Without its thread the backend still works, each run then
	 * written by the caller. */
	(void)wq_start(dev);
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
