/*
 * flash_linux_priv.h -- what flash_file.c and flash_mtd.c share: the state
 * of an open device, the I/O loops that retry EINTR and short transfers,
 * and the diagnostic formatter. Not part of the API (see fl/flash_linux.h).
 */
#ifndef FL_FLASH_LINUX_PRIV_H
#define FL_FLASH_LINUX_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "fl/flash_linux.h"

/* Bytes of erased value kept for erase-by-write; erases are written in
 * pieces of at most this size. */
#define FL_LINUX_FILL_MAX (64u * 1024u)

/* File backend: written bytes are gathered into writes of up to this
 * many, and the disk's write-back is started every FL_LINUX_WRITEBACK_BYTES
 * written, so that a sync (at a checkpoint, at the end of an image) finds
 * little left to write. */
#define FL_LINUX_WBUF_BYTES	 (1024u * 1024u)
#define FL_LINUX_WRITEBACK_BYTES (1024u * 1024u)

/* File backend: what its write-back thread writes is made durable
 * (fdatasync, by a flusher thread) every FL_LINUX_FLUSH_BYTES, while the
 * thread and the caller go on: a disk with a volatile write cache (a
 * virtual disk whose host caches writes, an SSD, eMMC) then writes an
 * image to its medium as it streams in, and the sync at its end waits for
 * the last few MiB only, not for the device to write the whole image out
 * of its cache. */
#define FL_LINUX_FLUSH_BYTES (4u * 1024u * 1024u)

/* File backend: buffers of FL_LINUX_WBUF_BYTES for its write-back thread,
 * one being gathered while the others wait for (or are in) the thread's
 * write. */
#define FL_LINUX_WQ_BUFS 3u

struct fl_linux_wq; /* flash_file.c */

/* Path kept for messages; longer paths are cut in messages only. */
#define FL_LINUX_PATH_MSG 128u

struct fl_linux_dev {
	const struct fl_flash_linux_sys *sys;
	int fd;
	uint8_t is_no_erase; /* erase writes fill[] instead of MEMERASE */
	char path[FL_LINUX_PATH_MSG];
	struct fl_flash_linux_diag last; /* last failed operation */
	/* File backend (flash_file.c, "the file backend's write-back"): the
	 * erase not yet written out (erase_len 0: none), the written bytes
	 * not yet written out (wbuf_len 0: none; wbuf NULL on MTD), and the
	 * bytes written since the disk's write-back was last started. */
	uint64_t erase_off, erase_len;
	uint64_t wbuf_off;
	size_t wbuf_len;
	uint8_t *wbuf; /* FL_LINUX_WBUF_BYTES */
	uint64_t wb_bytes;
	struct fl_linux_wq *wq; /* the write-back thread (NULL: none) */
	size_t fill_len;
	uint8_t fill[]; /* fill_len bytes of the erased value */
};

extern const struct fl_flash_ops fl_flash_linux__file_ops;

/* File backend: waits until its write-back thread has written every full
 * run (not a run still being gathered), and its flusher has made them
 * durable if a flush was due. Returns 0, or FL_EIO when a write failed
 * (reported here, as by any other call; what failed stays queued; a
 * failed flush is left for the next sync). For tests that look at the
 * system calls made. */
int fl_flash_linux__wait_idle(struct fl_flash *fl);
extern const struct fl_flash_ops fl_flash_linux__mtd_ops;

/* Fills *d (may be NULL) with the formatted text, then ": <strerror>"
 * when err is not 0. */
void fl_flash_linux__diag(struct fl_flash_linux_diag *d, int err,
			  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Opens path with flags | O_CLOEXEC (mode 0600 when creating) and reads
 * its type and size. Returns 0, FL_ENOENT, FL_EINVAL (a directory),
 * FL_ENOMEM, FL_EIO. On failure nothing stays open. */
int fl_flash_linux__open_fd(const struct fl_flash_linux_sys *sys,
			    const char *path, int flags, int *fd_out,
			    unsigned *type, uint64_t *size_bytes,
			    struct fl_flash_linux_diag *diag);

/* Allocates the state of an open device (fill_len bytes of fill_value).
 * Returns NULL when out of memory; takes nothing over on failure. */
struct fl_linux_dev *
fl_flash_linux__dev_new(const struct fl_flash_linux_sys *sys, int fd,
			const char *path, size_t fill_len, uint8_t fill_value);

/* Whole transfers: retry EINTR (up to FL_FLASH_LINUX_EINTR_MAX in a row)
 * and short transfers; end of file is an error. Return 0 or FL_EIO with
 * *diag (may be NULL) filled. */
int fl_flash_linux__pread_full(const struct fl_flash_linux_sys *sys, int fd,
			       const char *path, uint64_t off, void *dst,
			       size_t len, struct fl_flash_linux_diag *diag);
int fl_flash_linux__pwrite_full(const struct fl_flash_linux_sys *sys, int fd,
				const char *path, uint64_t off, const void *src,
				size_t len, struct fl_flash_linux_diag *diag);

/* The read and write operations of both backends, and erase by writing
 * the erased value. Return 0 or FL_EIO (described in dev->last). */
int fl_flash_linux__read(struct fl_flash *fl, uint32_t off, void *dst,
			 size_t len);
int fl_flash_linux__write(struct fl_flash *fl, uint32_t off, const void *src,
			  size_t len);
int fl_flash_linux__erase_by_write(struct fl_flash *fl, uint32_t off,
				   size_t len);

#endif
