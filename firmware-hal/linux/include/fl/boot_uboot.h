/*
 * boot_uboot.h -- the "uboot" boot control backend: boot.h's struct
 * fl_boot_ops over the U-Boot environment, through libubootenv.
 *
 * The environment contract (the variables, who writes them, the boot script
 * they assume) is at the top of boot_uboot.c and, with a sample boot script
 * and fw_env.config, in firmware-hal/linux/README-uboot.md.
 *
 * The booted slot is not in the environment (the environment says what to
 * boot next, not what was booted): the backend takes it from the kernel
 * command line, where the boot script puts a token "fl.slot=a" or
 * "fl.slot=b". It is read once, at open.
 *
 * Every operation loads the environment afresh, and every transition is
 * one libuboot_env_store(), read back before it returns. The backend holds
 * no lock between operations: libubootenv takes its lock file
 * (/var/lock/fw_printenv.lock) for the duration of each one.
 *
 * Errors: open fails with a negative FL_E* code and says why in a
 * caller-owned struct fl_boot_uboot_diag. After open, a failed operation
 * returns its code and keeps its description in the backend; read it with
 * fl_boot_uboot_last_error().
 */
#ifndef FL_BOOT_UBOOT_H
#define FL_BOOT_UBOOT_H

#include <stdint.h>

#include "fl/boot.h"

/* libubootenv's context (libuboot.h), for the library table below. */
struct uboot_ctx;

/* What went wrong, for a log line. */
struct fl_boot_uboot_diag {
	char msg[256];
};

/*
 * The libubootenv calls the backend makes. Each behaves as the libubootenv
 * function of the same name (libuboot_<name>, 0.3.2 signatures with ctx
 * added first): it returns 0 or a negative errno. ctx is passed back
 * unchanged; it is for fakes that make a call fail. A table must outlive
 * every backend opened with it.
 */
struct fl_boot_uboot_lib {
	unsigned version; /* FL_BOOT_UBOOT_LIB_VERSION */
	void *ctx;
	int (*initialize)(void *ctx, struct uboot_ctx **out); /* no devices */
	int (*read_config)(void *ctx, struct uboot_ctx *u, const char *path);
	int (*open)(void *ctx, struct uboot_ctx *u);
	void (*close)(void *ctx, struct uboot_ctx *u);
	void (*exit)(void *ctx, struct uboot_ctx *u);
	int (*set_env)(void *ctx, struct uboot_ctx *u, const char *name,
		       const char *value);
	int (*env_store)(void *ctx, struct uboot_ctx *u);
};

#define FL_BOOT_UBOOT_LIB_VERSION 1u

/* The table of the real libubootenv calls (ctx unused); never NULL. */
const struct fl_boot_uboot_lib *fl_boot_uboot_lib_default(void);

/* Highest number of boot attempts set_trial() accepts. */
#define FL_BOOT_UBOOT_TRIES_MAX 255u

/* Longest kernel command line read (bytes; Linux allows at most 4096 on
 * the architectures this port targets). */
#define FL_BOOT_UBOOT_CMDLINE_MAX 4096u

/*
 * Where the environment is and how to tell the booted slot. Zero-filled
 * means: /etc/fw_env.config, /proc/cmdline, reset reason unknown, the real
 * libubootenv.
 *
 * The environment is given as a libubootenv configuration file, the one
 * fw_printenv reads: "device offset env-size [sector-size [sectors]]" per
 * line, '#' starts a comment; two lines make a redundant environment.
 * (libubootenv 0.3.2's libuboot_configure(), the way to name the devices
 * without a file, always reads two devices and crashes on one, so the
 * backend does not offer it.)
 */
struct fl_boot_uboot_config {
	const char *fw_env_config; /* NULL: FL_BOOT_UBOOT_FW_ENV_CONFIG */
	/* The kernel command line to take "fl.slot=" from; NULL:
	 * FL_BOOT_UBOOT_CMDLINE. Ignored when is_booted_slot_forced. */
	const char *cmdline_path;
	uint8_t is_booted_slot_forced; /* 1: report booted_slot as booted */
	uint8_t booted_slot;	       /* 0 (A) or 1 (B) */
	uint8_t reset_reason;	       /* enum fl_reset_reason, for status() */
	const struct fl_boot_uboot_lib *lib; /* NULL: the real library */
};

#define FL_BOOT_UBOOT_FW_ENV_CONFIG "/etc/fw_env.config"
#define FL_BOOT_UBOOT_CMDLINE	    "/proc/cmdline"

/*
 * Opens the backend: reads the configuration and the booted slot, and
 * loads the environment once to check that it is there and valid.
 *
 * On success *out is a struct fl_boot whose ops are the "uboot" table and
 * whose state is owned by the caller: release it with
 * fl_boot_uboot_close(). On failure *out is left closed (ops and priv
 * NULL). cfg is read during the call only. diag may be NULL.
 *
 * Returns 0, FL_EINVAL (NULL out; a booted slot out of range; a table of
 * an unknown version; a configuration libubootenv refuses, including one
 * that names a device that does not exist; a "fl.slot=" value other than
 * "a" or "b"; a command line holding a NUL byte), FL_ENOENT (no configuration
 * file or command line file; no "fl.slot=" token on the command line),
 * FL_ETOOBIG (a command line longer than FL_BOOT_UBOOT_CMDLINE_MAX),
 * FL_ECORRUPT (no copy of the environment has a valid CRC: U-Boot would boot
 * its built-in default environment, and the backend refuses to write over it),
 * FL_ENOMEM, FL_EIO (any other system or library error, including an
 * environment device shorter than offset + size).
 */
int fl_boot_uboot_open(struct fl_boot *out,
		       const struct fl_boot_uboot_config *cfg,
		       struct fl_boot_uboot_diag *diag);

/* Releases the backend's state; *b is left closed (ops and priv NULL).
 * Accepts NULL and a closed or zeroed struct; ignores a struct of another
 * backend. */
void fl_boot_uboot_close(struct fl_boot *b);

/* The description of the most recent failed operation on b (msg is ""
 * while none has failed); valid until the next failure or the close.
 * Never NULL: a NULL, closed or foreign struct gives an empty one. */
const struct fl_boot_uboot_diag *
fl_boot_uboot_last_error(const struct fl_boot *b);

/*
 * The operations, as boot.h documents them, with the errors this backend
 * returns (every operation loads the environment first, so each can also
 * return FL_ECORRUPT when no copy is valid any more, FL_ENOMEM and FL_EIO):
 *
 *   status         0, FL_ECORRUPT, FL_ENOMEM, FL_EIO
 *   set_trial      0, FL_EINVAL (slot > 1, tries 0 or above
 *                  FL_BOOT_UBOOT_TRIES_MAX), FL_ENOSPC (the environment is
 *                  full), FL_ECORRUPT, FL_ENOMEM, FL_EIO
 *   commit         0, FL_EINVAL (slot > 1), FL_ESTATE (slot is not the
 *                  booted slot, or no trial of it is pending and it is not
 *                  already committed), FL_ENOSPC, FL_ECORRUPT, FL_ENOMEM,
 *                  FL_EIO
 *   set_permanent  0, FL_EINVAL (slot > 1), FL_ENOSPC, FL_ECORRUPT,
 *                  FL_ENOMEM, FL_EIO
 *
 * A transition whose variables already hold their target values writes
 * nothing. A write that the library reports done but that does not read
 * back returns FL_EIO.
 */

#endif
