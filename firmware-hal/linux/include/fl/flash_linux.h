/*
 * flash_linux.h -- Linux flash backends: a regular file or a block device
 * ("file"), a NOR-like MTD character device ("mtd"), and a file mapped as
 * the memory of the portable flash simulator.
 *
 * The file backend has no flash physics of its own: erase sets the range to
 * the erased value (written out lazily, see flash_file.c) and the geometry
 * is the caller's (by default 4 KiB erase unit, 1-byte writes, 0xFF); its
 * reads come from the page cache (FL_FLASH_READS_CACHED), and it starts
 * the write-back of what it writes early and flushes it every few MiB, so
 * that a sync waits for little. The MTD backend takes its geometry from
 * the kernel (MEMGETINFO) and erases with MEMERASE; it refuses NAND, whose
 * bad blocks it does not handle. Both reach the kernel through a small
 * table of system calls (struct fl_flash_linux_sys) so that tests can
 * substitute a fake device and make every call fail.
 *
 * Errors: open fails with a negative FL_E* code and describes why, naming
 * the path and the system's message, in a caller-owned struct
 * fl_flash_linux_diag. After open, a failed read, write, erase or sync
 * returns FL_EIO and keeps its description in the backend; read it with
 * fl_flash_linux_last_error().
 */
#ifndef FL_FLASH_LINUX_H
#define FL_FLASH_LINUX_H

#include <stdint.h>
#include <sys/types.h>

#include "fl/flash.h"

/* What went wrong, for a log line: sys_errno is the errno of the failed
 * system call (0 when the failure was not a system call's). */
struct fl_flash_linux_diag {
	int sys_errno;
	char msg[256];
};

/*
 * The system calls the backends make. Each behaves as the system call of
 * the same name: it returns -1 and sets errno on failure. ctx is passed
 * back unchanged; it is for fakes. fstat reports only the file type bits
 * (S_IFMT of st_mode) and st_size. Offsets are 64-bit whatever the size of
 * off_t. A table must outlive every device opened with it, and allow two
 * calls at once: a file device's write-back thread may write while its
 * flusher calls fdatasync.
 * sync_file_range may be NULL (the write-back then starts at sync only);
 * its failure is ignored: it is a hint, and sync reports what matters.
 */
struct fl_flash_linux_sys {
	unsigned version; /* FL_FLASH_LINUX_SYS_VERSION */
	void *ctx;
	int (*open)(void *ctx, const char *path, int flags, unsigned mode);
	int (*close)(void *ctx, int fd);
	int (*fstat)(void *ctx, int fd, unsigned *type, uint64_t *size_bytes);
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t len,
			 uint64_t off);
	ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t len,
			  uint64_t off);
	int (*ioctl)(void *ctx, int fd, unsigned long req, void *arg);
	int (*fdatasync)(void *ctx, int fd);
	int (*sync_file_range)(void *ctx, int fd, uint64_t off, uint64_t len,
			       unsigned flags);
};

#define FL_FLASH_LINUX_SYS_VERSION 1u

/* Consecutive EINTRs tolerated on one call before it counts as an error. */
#define FL_FLASH_LINUX_EINTR_MAX 64u

/* The table of the real system calls (ctx unused); never NULL. */
const struct fl_flash_linux_sys *fl_flash_linux_sys_default(void);

/*
 * Opens a regular file or a block device as a flash device, O_RDWR.
 *
 * geom: erase unit, write unit and erased value; NULL means 4096, 1, 0xFF.
 * Its size_bytes, when not 0, is the device size, and the file must be at
 * least that long. When 0, the size is create_size if that is not 0, else
 * the file's size (BLKGETSIZE64 for a block device) rounded down to a whole
 * number of erase units.
 *
 * create_size: when not 0, a missing regular file is created, and a regular
 * file shorter than create_size is extended to it, the new bytes set to the
 * erased value and synced (an interrupted extension resumes on the next
 * open). Never shrinks a file. Not allowed with a block device.
 *
 * On success *out is a device whose state is owned by the caller: release
 * it with fl_flash_linux_close(). On failure *out is left closed. diag may
 * be NULL. The device has a thread of its own that writes what was
 * written to it in runs of 1 MiB while the caller goes on, and another
 * that makes those writes durable (fdatasync) every 4 MiB (flash_file.c,
 * "the write-back thread"): a failure of such a write is reported by a
 * later call on the device, a failure of such a fdatasync by the next
 * sync, and close() stops both threads. Not for use from more than one
 * thread at a time.
 *
 * Returns 0, FL_EINVAL (NULL argument, bad geometry, a directory or another
 * kind of file, create_size with a block device), FL_ENOENT (no such path
 * and create_size is 0), FL_ENOSPC (the file is smaller than the size asked,
 * or than one erase unit), FL_ETOOBIG (a file of 4 GiB or more with no
 * size given), FL_ENOMEM, FL_EIO (any other system error: permissions,
 * I/O, a failed extension).
 */
int fl_flash_file_open(struct fl_flash *out, const char *path,
		       const struct fl_flash_geom *geom, uint32_t create_size,
		       struct fl_flash_linux_diag *diag);

/* fl_flash_file_open() through sys (NULL: the real system calls). Same
 * errors, and FL_EINVAL for a table of an unknown version. */
int fl_flash_file_open_sys(struct fl_flash *out,
			   const struct fl_flash_linux_sys *sys,
			   const char *path, const struct fl_flash_geom *geom,
			   uint32_t create_size,
			   struct fl_flash_linux_diag *diag);

/*
 * Opens an MTD character device (/dev/mtdN) as a flash device. The geometry
 * is the kernel's: MEMGETINFO's size, erasesize and writesize (1 when the
 * kernel says 0), erased value 0xFF. Erase is MEMERASE, except on devices
 * flagged MTD_NO_ERASE (RAM, FRAM), where it writes 0xFF. Sync does
 * nothing: the MTD layer completes every write and erase before returning.
 *
 * NAND (SLC or MLC) is refused: it needs bad-block handling and page-order
 * rules that this backend does not implement (use UBI for NAND). So are
 * ROM, read-only devices, and geometries that are not powers of two (such
 * as DataFlash with 528-byte pages).
 *
 * On success *out is owned by the caller: release it with
 * fl_flash_linux_close(). diag may be NULL.
 *
 * Returns 0, FL_EINVAL (NULL argument; not a character device; a character
 * device that is not MTD), FL_ENOENT, FL_ENOTSUP (NAND, ROM, read-only, or
 * an unusable geometry), FL_ENOMEM, FL_EIO (open or MEMGETINFO failed).
 */
int fl_flash_mtd_open(struct fl_flash *out, const char *path,
		      struct fl_flash_linux_diag *diag);

/* fl_flash_mtd_open() through sys (NULL: the real system calls). */
int fl_flash_mtd_open_sys(struct fl_flash *out,
			  const struct fl_flash_linux_sys *sys,
			  const char *path, struct fl_flash_linux_diag *diag);

/* Closes a device opened by this header's functions and frees its state;
 * *fl is left closed (ops and priv NULL). Accepts NULL and a closed or
 * zeroed device; ignores a device of another backend. */
void fl_flash_linux_close(struct fl_flash *fl);

/* The description of the most recent failed read, write, erase or sync
 * on fl (msg is "" while none has failed); valid until the next failure or
 * the close. Never NULL: a NULL, closed or foreign device gives an empty
 * one. */
const struct fl_flash_linux_diag *
fl_flash_linux_last_error(const struct fl_flash *fl);

/*
 * Maps the file at path as size bytes of simulator memory (flash_sim.h),
 * shared, so that what the simulator writes lands in the file. A missing
 * file is created filled with erased_value, atomically (written as
 * "<path>.tmp", synced, then renamed), so a crash never leaves a short
 * file behind. An existing file of another size is refused: a simulated
 * device never changes size behind its owner's back.
 *
 * On success *mem_out is owned by the caller: release it with
 * fl_flash_sim_unmap(*mem_out, size). diag may be NULL.
 *
 * Returns 0, FL_EINVAL (NULL argument, size 0, not a regular file, wrong
 * size), FL_ETOOBIG (path too long), FL_ENOMEM (mmap refused for want of
 * memory), FL_EIO (any other system error).
 */
int fl_flash_sim_map_file(const char *path, uint32_t size, uint8_t erased_value,
			  uint8_t **mem_out, struct fl_flash_linux_diag *diag);

/* Writes the mapping back to the file (msync, best effort) and unmaps it.
 * Accepts NULL. */
void fl_flash_sim_unmap(uint8_t *mem, uint32_t size);

#endif
