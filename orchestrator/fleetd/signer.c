/*
 * signer.c -- the fleet signing key: created once, loaded on every start,
 * refused when others could have read it; seals manifests for the runner.
 *
 * Method: the key is made in memory and written to DATA/keys/signing.pem.tmp
 * (created with O_EXCL, mode 0600, so it is never readable by others even
 * for an instant), flushed and fsynced, then renamed to signing.pem with
 * RENAME_NOREPLACE (link() where the file system lacks it), and the
 * directory is fsynced. A crash before the rename leaves only the .tmp
 * file, which was never the key and is removed at the next start; a crash
 * after it leaves a complete key. The rename never replaces an existing
 * key: if another fleetd created one meanwhile, that one is loaded
 * instead, so two processes can never end up signing with different keys.
 *
 * When `fleetd keys` has certified the key with the fleet's root
 * (DATA/keys/<kid>.cert, docs/security.md), every manifest is sealed as an
 * envelope 2 carrying that certificate; otherwise as an envelope 1.
 */
#include "signer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fl/err.h"

#define KEYS_DIR "keys"
#define KEY_FILE "signing.pem"
#define PUB_FILE "signing.pub"

struct fl_signer {
	struct fl_sign_key *key;
	bool is_new;
	bool has_cert; /* DATA/keys/<kid>.cert: seal envelopes 2 */
	uint8_t cert[FL_CERT_BYTES];
	char dir[FL_SIGNER_PATH_MAX];
	char path[FL_SIGNER_PATH_MAX];
};

const struct fl_runner_sign_ops fl_signer_sign_ops = {fl_signer_seal};

__attribute__((format(printf, 3, 4))) static int
fail(struct fl_signer_diag *diag, int err, const char *fmt, ...)
{
	va_list ap;

	if (diag != NULL) {
		va_start(ap, fmt);
		vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return FL_EIO;
	if (fsync(fd) != 0)
		rc = FL_EIO;
	close(fd);
	return rc;
}

/* Creates DATA/keys (0700) or checks that it is a directory nobody else
 * can write to. */
static int ensure_dir(const char *data_dir, const char *dir,
		      struct fl_signer_diag *diag)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0) {
		if (fsync_dir(data_dir) != 0)
			return fail(diag, FL_EIO, "%s: cannot sync: %s",
				    data_dir, strerror(errno));
		return 0;
	}
	if (errno != EEXIST)
		return fail(diag, FL_EIO, "%s: %s", dir, strerror(errno));
	if (lstat(dir, &st) != 0)
		return fail(diag, FL_EIO, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(diag, FL_ESTATE, "%s: not a directory", dir);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return fail(diag, FL_ESTATE,
			    "%s: mode %04o lets group or others replace the "
			    "fleet signing key; refusing it (chmod 700 it)",
			    dir, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* Loads the key from an open descriptor (taken). */
static int load_fd(struct fl_signer *s, int fd, struct fl_signer_diag *diag)
{
	struct fl_sign_diag sd = {""};
	struct stat st;
	FILE *f;
	int rc;

	if (fstat(fd, &st) != 0) {
		rc = fail(diag, FL_EIO, "%s: %s", s->path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(diag, FL_ESTATE, "%s: not a regular file", s->path);
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		return fail(diag, FL_ESTATE,
			    "%s: mode %04o lets group or others read the fleet "
			    "signing key; refusing it (find out who may have "
			    "copied it, then chmod 600 it)",
			    s->path, (unsigned)(st.st_mode & 07777));
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return fail(diag, FL_ESTATE,
			    "%s: owned by uid %u, not by fleetd's uid %u",
			    s->path, (unsigned)st.st_uid, (unsigned)geteuid());
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		rc = fail(diag, FL_ENOMEM, "%s: %s", s->path, strerror(errno));
		close(fd);
		return rc;
	}
	rc = fl_sign_key_read_pem(&s->key, f, s->path, true, &sd);
	fclose(f);
	if (rc != 0)
		return fail(diag, rc, "%s", sd.msg);
	return 0;
}

/* Writes a new key to tmp and moves it to s->path unless a key is there.
 * Sets *is_taken when another key won the race. */
static int create_key(struct fl_signer *s, const char *tmp, bool *is_taken,
		      struct fl_signer_diag *diag)
{
	struct fl_sign_diag sd = {""};
	struct fl_sign_key *key = NULL;
	FILE *f = NULL;
	int fd, rc;

	*is_taken = false;
	rc = fl_sign_key_generate(&key, &sd);
	if (rc != 0)
		return fail(diag, rc, "%s", sd.msg);
	/* A .tmp left by a crash was never the key. */
	if (unlink(tmp) != 0 && errno != ENOENT) {
		rc = fail(diag, FL_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		rc = fail(diag, FL_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		rc = fail(diag, FL_ENOMEM, "%s: %s", tmp, strerror(errno));
		close(fd);
		goto out_unlink;
	}
	if (fl_sign_key_write_pem(key, f) != 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		rc = fail(diag, FL_EIO, "%s: write failed: %s", tmp,
			  strerror(errno));
		goto out_unlink;
	}
	if (fclose(f) != 0) {
		f = NULL;
		rc = fail(diag, FL_EIO, "%s: write failed: %s", tmp,
			  strerror(errno));
		goto out_unlink;
	}
	f = NULL;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, s->path, RENAME_NOREPLACE) !=
	    0) {
		if (errno == EINVAL || errno == ENOSYS) {
			/* No RENAME_NOREPLACE here: link() never replaces. */
			int lrc = link(tmp, s->path);

			if (lrc != 0 && errno != EEXIST) {
				rc = fail(diag, FL_EIO, "%s: %s", s->path,
					  strerror(errno));
				goto out_unlink;
			}
			*is_taken = lrc != 0;
			(void)unlink(tmp);
		} else if (errno == EEXIST) {
			*is_taken = true;
			(void)unlink(tmp);
		} else {
			rc = fail(diag, FL_EIO, "%s: %s", s->path,
				  strerror(errno));
			goto out_unlink;
		}
	}
	if (fsync_dir(s->dir) != 0) {
		rc = fail(diag, FL_EIO, "%s: cannot sync: %s", s->dir,
			  strerror(errno));
		goto out;
	}
	if (!*is_taken) {
		s->key = key;
		key = NULL;
	}
	rc = 0;
	goto out;
out_unlink:
	(void)unlink(tmp);
out:
	if (f != NULL)
		fclose(f);
	fl_sign_key_free(key);
	return rc;
}

/* DATA/keys/signing.pub: the line devices are given, derived from the
 * key and rewritten (atomically) at every start. */
static int write_pub(struct fl_signer *s, struct fl_signer_diag *diag)
{
	char hex[FL_SIGN_PUB_HEX_MAX], path[FL_SIGNER_PATH_MAX],
		tmp[FL_SIGNER_PATH_MAX + 8];
	FILE *f;
	int fd, n;

	fl_sign_key_pub_hex(s->key, hex);
	n = snprintf(path, sizeof(path), "%s/%s", s->dir, PUB_FILE);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return fail(diag, FL_EINVAL, "%s: path too long", s->dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd < 0)
		return fail(diag, FL_EIO, "%s: %s", tmp, strerror(errno));
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return fail(diag, FL_ENOMEM, "%s: %s", tmp, strerror(errno));
	}
	if (fprintf(f, "%s\n", hex) < 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		fclose(f);
		(void)unlink(tmp);
		return fail(diag, FL_EIO, "%s: write failed", tmp);
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		(void)unlink(tmp);
		return fail(diag, FL_EIO, "%s: %s", path, strerror(errno));
	}
	return 0;
}

/* DATA/keys/<kid>.cert, when `fleetd keys` certified the key: it must
 * certify this key and not have ended (a device would refuse every
 * manifest). */
static int load_cert(struct fl_signer *s, struct fl_signer_diag *diag)
{
	char kid[FL_SIGN_KID_HEX_MAX], path[FL_SIGNER_PATH_MAX + 32];
	struct fl_sign_diag sd = {""};
	struct fl_manifest_cert c;
	int rc;

	fl_sign_key_kid_hex(s->key, kid);
	snprintf(path, sizeof(path), "%s/%s.cert", s->dir, kid);
	rc = fl_sign_cert_read(path, s->cert, &sd);
	if (rc == FL_ENOENT)
		return 0; /* not certified: envelopes 1 */
	if (rc != 0)
		return fail(diag, rc, "%s", sd.msg);
	(void)fl_manifest_cert_decode(&c, s->cert);
	if (memcmp(c.pub, fl_sign_key_pub(s->key), FL_MANIFEST_PUB_BYTES))
		return fail(diag, FL_ESTATE, "%s: certifies another key", path);
	if ((uint64_t)time(NULL) >= c.not_after)
		return fail(diag, FL_ESTATE,
			    "%s: the signing key's certificate has ended; "
			    "devices would refuse every manifest (fleetd keys "
			    "rotate)",
			    path);
	s->has_cert = true;
	return 0;
}

int fl_signer_open(struct fl_signer **out, const char *data_dir,
		   struct fl_signer_diag *diag)
{
	struct fl_signer *s;
	char tmp[FL_SIGNER_PATH_MAX + 8];
	bool is_taken = false;
	int fd, n, rc;

	if (diag != NULL)
		diag->msg[0] = '\0';
	if (out == NULL || data_dir == NULL || data_dir[0] == '\0')
		return fail(diag, FL_EINVAL, "no data directory");
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return fail(diag, FL_ENOMEM, "out of memory");
	n = snprintf(s->dir, sizeof(s->dir), "%s/%s", data_dir, KEYS_DIR);
	if (n < 0 || (size_t)n >= sizeof(s->dir) ||
	    snprintf(s->path, sizeof(s->path), "%s/%s", s->dir, KEY_FILE) >=
		    (int)sizeof(s->path)) {
		rc = fail(diag, FL_EINVAL, "%s: path too long", data_dir);
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
	rc = ensure_dir(data_dir, s->dir, diag);
	if (rc != 0)
		goto out;
	for (int attempt = 0; attempt < 2 && s->key == NULL; attempt++) {
		fd = open(s->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			rc = load_fd(s, fd, diag);
			if (rc != 0)
				goto out;
			(void)unlink(tmp); /* a crash's leftover */
			break;
		}
		if (errno != ENOENT) {
			rc = fail(diag, errno == ELOOP ? FL_ESTATE : FL_EIO,
				  "%s: %s", s->path, strerror(errno));
			goto out;
		}
		rc = create_key(s, tmp, &is_taken, diag);
		if (rc != 0)
			goto out;
		s->is_new = !is_taken;
	}
	if (s->key == NULL) {
		rc = fail(diag, FL_EIO, "%s: cannot create or load", s->path);
		goto out;
	}
	rc = load_cert(s, diag);
	if (rc == 0)
		rc = write_pub(s, diag);
	if (rc != 0)
		goto out;
	*out = s;
	return 0;
out:
	fl_signer_free(s);
	return rc;
}

void fl_signer_free(struct fl_signer *s)
{
	if (s == NULL)
		return;
	fl_sign_key_free(s->key);
	free(s);
}

const struct fl_sign_key *fl_signer_key(const struct fl_signer *s)
{
	return s->key;
}

bool fl_signer_is_new(const struct fl_signer *s)
{
	return s->is_new;
}

const char *fl_signer_path(const struct fl_signer *s)
{
	return s->path;
}

int fl_signer_seal(void *ctx, struct fl_manifest_env *env,
		   const struct fl_manifest *m)
{
	struct fl_signer *s = ctx;

	if (s == NULL)
		return FL_EINVAL;
	if (s->has_cert)
		return fl_sign_key_seal_certified(s->key, env, m, s->cert);
	return fl_sign_key_seal(s->key, env, m);
}

const uint8_t *fl_signer_cert(const struct fl_signer *s)
{
	return s->has_cert ? s->cert : NULL;
}
