/*
 * imgkeys.h -- the keys of fleetd's encrypted images (docs/security.md,
 * "Encrypted images"):
 *
 *   KEK       DATA/keys/kek: 32 random bytes (mode 0600, made on first
 *             need, refused when group or others may read it), the key
 *             under which every content key is kept
 *   content   DATA/keys/content/<image sha256>[.<zip>-<chunk>]: what an
 *             image was sealed into (the container's SHA-256, length,
 *             compression, chunk size) and its content key, encrypted
 *             under the KEK (AES-256-GCM, bound to both digests); one per
 *             form, the default form (zstd, FLD_IMG_CHUNK) without the
 *             suffix, another as <sha256>.none-4096, <sha256>.zstd-65536
 *   wrap      DATA/wrap/<name>.pem: the public half of each device's (or
 *             group's) wrap key, SubjectPublicKeyInfo PEM; name = device
 *             id or group, 1 to 63 of [A-Za-z0-9._-], the first a letter
 *             or digit (what the agent accepts)
 *
 * Every file is written power-safe: a temporary file created with O_EXCL,
 * written, fsynced, renamed into place (linked where nothing may be
 * replaced), the folder fsynced. Folders are 0700 and refused when group
 * or others may write to them: whoever can change a wrap key gets the
 * content keys wrapped for it.
 *
 * struct fld_imgkeys is the runner's key port (struct fl_runner_key_ops):
 * it unwraps an image's content key from the KEK once, keeps it in memory
 * (wiped when freed) and wraps it for each device at each offer.
 *
 * Private to fleetd; not thread-safe (fleetd's loop uses it).
 */
#ifndef FLD_IMGKEYS_H
#define FLD_IMGKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl/proto.h"
#include "fl/seal.h"
#include "runner.h"

#define FLD_KEK_BYTES	     32
#define FLD_IMGKEYS_PATH_MAX 1024
#define FLD_IMG_CHUNK	     16384u /* what every agent takes by default */
#define FLD_IMG_LEVEL	     3	    /* zstd level of an import */

struct fld_imgkeys_diag {
	char msg[FLD_IMGKEYS_PATH_MAX + 256];
};

struct fld_imgkeys;

/*
 * Opens the image keys of data_dir (which must exist). The KEK is read
 * at the first need (fld_imgkeys_kek), not here. *out is the caller's
 * (fld_imgkeys_free). Returns 0, FL_EINVAL (path too long), FL_ENOMEM.
 */
int fld_imgkeys_open(struct fld_imgkeys **out, const char *data_dir,
		     struct fld_imgkeys_diag *diag);

/* Wipes the KEK and every content key held. Accepts NULL. */
void fld_imgkeys_free(struct fld_imgkeys *k);

/*
 * Loads the KEK, creating it if may_create and it does not exist.
 * Returns 0, FL_ENOENT (none and !may_create), FL_ESTATE (the file or
 * its folder is open to group or others, not a regular file, owned by
 * another user, or not 32 bytes), FL_EIO, FL_ECRYPTO, with *diag.
 */
int fld_imgkeys_kek(struct fld_imgkeys *k, bool may_create,
		    struct fld_imgkeys_diag *diag);

/* Writes the content record of the image image_sha (hex) sealed in the
 * form s->zip, s->chunk: s and key, the key encrypted under the KEK (made
 * if missing). Replaces a record of the same image and form. Returns 0,
 * FL_EINVAL, or as fld_imgkeys_kek, FL_EIO. */
int fld_imgkeys_content_put(struct fld_imgkeys *k, const char *image_sha,
			    const struct fl_runner_sealed *s,
			    const uint8_t key[FL_AES256_KEY_BYTES],
			    struct fld_imgkeys_diag *diag);

/* Reads the content record of image_sha sealed in the form zip (enum
 * fl_seal_zip), chunk into *s and, when key is not NULL, opens its key
 * with the KEK. Returns 0, FL_ENOENT (no record of that form),
 * FL_ECORRUPT (a record that does not parse, names another form, or does
 * not open with this KEK), or as fld_imgkeys_kek. */
int fld_imgkeys_content_get(struct fld_imgkeys *k, const char *image_sha,
			    uint8_t zip, uint32_t chunk,
			    struct fl_runner_sealed *s,
			    uint8_t key[FL_AES256_KEY_BYTES],
			    struct fld_imgkeys_diag *diag);

/* ---- the wrap registry ------------------------------------------------- */

/* A device id or group name the registry takes. */
bool fld_wrap_name_ok(const char *name);

/* Reads a recipient's public key from path: a PEM public key or 130 hex
 * digits (what `fleet-manifest pubkey` prints), a point on P-256. A
 * private key is refused. Returns 0, FL_ENOENT, FL_EIO, FL_EINVAL. */
int fld_wrap_pub_read(uint8_t pub[65], const char *path,
		      struct fld_imgkeys_diag *diag);

/* Registers pub as name's wrap key (DATA/wrap/NAME.pem). An existing key
 * is replaced only if is_replace (else FL_ESTATE). Returns 0, FL_EINVAL
 * (a bad name or point), FL_ESTATE, FL_EIO. */
int fld_wrap_put(const char *data_dir, const char *name, const uint8_t pub[65],
		 bool is_replace, struct fld_imgkeys_diag *diag);

/* Reads name's registered key. Returns 0, FL_ENOENT, FL_EINVAL (a bad
 * name, or a file that is not a P-256 public key), FL_EIO. */
int fld_wrap_get(const char *data_dir, const char *name, uint8_t pub[65],
		 struct fld_imgkeys_diag *diag);

/* Whether name has a registered key (the file exists). */
bool fld_wrap_has(const char *data_dir, const char *name);

/* Removes name's key. Returns 0, FL_ENOENT, FL_EINVAL, FL_EIO. */
int fld_wrap_remove(const char *data_dir, const char *name,
		    struct fld_imgkeys_diag *diag);

/* Calls cb for each registered name, in no order. Returns 0, FL_EIO or
 * cb's first non-zero value. */
int fld_wrap_list(const char *data_dir,
		  int (*cb)(void *ctx, const char *name, const uint8_t pub[65]),
		  void *ctx);

/*
 * A device's wrap key: a new P-256 key written to out_dir/ID.wrap.pem
 * (PKCS#8 PEM, 0600) and its public half registered as DATA/wrap/ID.pem.
 * An existing out_dir/ID.wrap.pem is refused (FL_ESTATE) unless is_force.
 * Returns 0, FL_EINVAL, FL_ESTATE, FL_EIO, FL_ECRYPTO.
 */
int fld_wrap_make_device(const char *data_dir, const char *out_dir,
			 const char *id, bool is_force,
			 struct fld_imgkeys_diag *diag);

/* ---- the runner's key port ---------------------------------------------- */

extern const struct fl_runner_key_ops fld_imgkeys_key_ops;

#endif
