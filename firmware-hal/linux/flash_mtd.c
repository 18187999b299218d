/*
 * flash_mtd.c -- a Linux MTD character device (/dev/mtdN) as a flash
 * device, for NOR-like flash.
 *
 * The kernel gives the geometry (MEMGETINFO) and does the erasing
 * (MEMERASE over whole erase blocks); reads and writes are pread and
 * pwrite on the character device, which the MTD layer completes before it
 * returns, so there is nothing to sync. Devices flagged MTD_NO_ERASE (RAM,
 * FRAM) have no erase operation; there erase writes 0xFF, which is what a
 * reader of erased NOR expects to see.
 *
 * NAND is refused rather than half supported: it has bad blocks (which
 * MEMGETBADBLOCK would report, but skipping them would change the device's
 * layout under the slot manager), must be written page by page in order
 * within a block, and needs ECC-aware reads. UBI is the right layer there.
 */
#define _FILE_OFFSET_BITS 64

#include "fl/flash_linux.h"

#include <errno.h>
#include <fcntl.h>
#include <mtd/mtd-user.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "fl/err.h"
#include "flash_linux_priv.h"

static int mtd_erase(struct fl_flash *fl, uint32_t off, size_t len)
{
	struct fl_linux_dev *dev = fl->priv;
	struct erase_info_user ei;
	unsigned eintr = 0;

	if (dev->is_no_erase)
		return fl_flash_linux__erase_by_write(fl, off, len);
	/* Range checked above the backend: off + len <= size < 2^32. */
	ei.start = off;
	ei.length = (uint32_t)len;
	/* Erasing is idempotent, so an interrupted erase is simply redone. */
	while (dev->sys->ioctl(dev->sys->ctx, dev->fd, MEMERASE, &ei) != 0) {
		if (errno == EINTR && ++eintr <= FL_FLASH_LINUX_EINTR_MAX)
			continue;
		fl_flash_linux__diag(
			&dev->last, errno, "%s: MEMERASE of %u bytes at %#x",
			dev->path, (unsigned)ei.length, (unsigned)ei.start);
		return FL_EIO;
	}
	return 0;
}

const struct fl_flash_ops fl_flash_linux__mtd_ops = {
	.version = FL_FLASH_OPS_VERSION,
	.name = "mtd",
	.read = fl_flash_linux__read,
	.write = fl_flash_linux__write,
	.erase = mtd_erase,
	.sync = NULL,
};

/* Returns 0 for the types this backend drives, else FL_ENOTSUP with why. */
static int check_type(const char *path, const struct mtd_info_user *info,
		      struct fl_flash_linux_diag *diag)
{
	switch (info->type) {
	case MTD_NORFLASH:
	case MTD_RAM:
	case MTD_DATAFLASH: break;
	case MTD_NANDFLASH:
	case MTD_MLCNANDFLASH:
		fl_flash_linux__diag(diag, 0,
				     "%s: NAND flash (MTD type %u) needs "
				     "bad-block handling, which this backend "
				     "does not do; use UBI",
				     path, (unsigned)info->type);
		return FL_ENOTSUP;
	default:
		fl_flash_linux__diag(diag, 0,
				     "%s: MTD type %u is not supported (NOR, "
				     "RAM or DataFlash only)",
				     path, (unsigned)info->type);
		return FL_ENOTSUP;
	}
	if ((info->flags & MTD_WRITEABLE) == 0) {
		fl_flash_linux__diag(diag, 0, "%s: the MTD device is read-only",
				     path);
		return FL_ENOTSUP;
	}
	return 0;
}

int fl_flash_mtd_open(struct fl_flash *out, const char *path,
		      struct fl_flash_linux_diag *diag)
{
	return fl_flash_mtd_open_sys(out, NULL, path, diag);
}

int fl_flash_mtd_open_sys(struct fl_flash *out,
			  const struct fl_flash_linux_sys *sys,
			  const char *path, struct fl_flash_linux_diag *diag)
{
	struct mtd_info_user info;
	struct fl_flash_geom g;
	struct fl_linux_dev *dev;
	uint64_t size = 0;
	unsigned type = 0;
	size_t fill_len = 0;
	int fd = -1, rc, err;

	if (diag != NULL) {
		diag->sys_errno = 0;
		diag->msg[0] = '\0';
	}
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (sys == NULL)
		sys = fl_flash_linux_sys_default();
	if (out == NULL || path == NULL ||
	    sys->version != FL_FLASH_LINUX_SYS_VERSION) {
		fl_flash_linux__diag(diag, 0, "mtd flash: invalid argument");
		rc = FL_EINVAL;
		goto out;
	}
	rc = fl_flash_linux__open_fd(sys, path, O_RDWR, &fd, &type, &size,
				     diag);
	if (rc != 0)
		goto out;
	if (type != S_IFCHR) {
		fl_flash_linux__diag(diag, 0,
				     "%s: not a character device (give the MTD "
				     "character device /dev/mtdN, not "
				     "mtdblockN)",
				     path);
		rc = FL_EINVAL;
		goto out;
	}
	memset(&info, 0, sizeof(info));
	if (sys->ioctl(sys->ctx, fd, MEMGETINFO, &info) != 0) {
		err = errno;
		fl_flash_linux__diag(diag, err, "%s: MEMGETINFO", path);
		/* ENOTTY: a character device, but not an MTD one. */
		rc = err == ENOTTY ? FL_EINVAL : FL_EIO;
		goto out;
	}
	rc = check_type(path, &info, diag);
	if (rc != 0)
		goto out;

	g.size_bytes = info.size;
	g.erase_bytes = info.erasesize;
	g.write_bytes = info.writesize != 0 ? info.writesize : 1;
	g.erased_value = 0xFF;
	if (fl_flash_geom_check(&g) != 0) {
		fl_flash_linux__diag(diag, 0,
				     "%s: geometry not supported: size %u, "
				     "erase unit %u, write unit %u (powers of "
				     "two needed, write <= erase)",
				     path, (unsigned)g.size_bytes,
				     (unsigned)g.erase_bytes,
				     (unsigned)g.write_bytes);
		rc = FL_ENOTSUP;
		goto out;
	}
	if ((info.flags & MTD_NO_ERASE) != 0)
		fill_len = g.erase_bytes < FL_LINUX_FILL_MAX
				   ? g.erase_bytes
				   : FL_LINUX_FILL_MAX;
	dev = fl_flash_linux__dev_new(sys, fd, path, fill_len, 0xFF);
	if (dev == NULL) {
		fl_flash_linux__diag(diag, ENOMEM, "%s: device state", path);
		rc = FL_ENOMEM;
		goto out;
	}
	dev->is_no_erase = fill_len != 0;
	out->ops = &fl_flash_linux__mtd_ops;
	out->geom = g;
	out->priv = dev;
	fd = -1; /* owned by dev now */
	rc = 0;
out:
	if (fd >= 0)
		sys->close(sys->ctx, fd);
	return rc;
}
