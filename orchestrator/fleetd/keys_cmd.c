/*
 * keys_cmd.c -- `fleetd keys`: the fleet's root key and the certificates
 * of fleetd's signing key, so that the signing key can be rotated or
 * revoked without touching a device (docs/security.md, "Signed images and
 * key rotation"; the certificate: docs/formats.md, "Key certificate").
 *
 *   fleetd keys init   [--root PATH] [--valid-for DURATION]
 *   fleetd keys rotate [--root PATH] [--revoke] [--valid-for DURATION]
 *   fleetd keys revoke [--root PATH] [--valid-for DURATION]
 *   fleetd keys show
 *   each with fleetd's [--data DIR] [--config FILE]
 *
 * init makes the root (DATA/keys/root.pem, 0600, unless --root names a
 * key kept elsewhere, which is made there if it does not exist) and
 * writes its public key to DATA/keys/root.pub, the line devices list under
 * `roots`; then it certifies fleetd's signing key (made if fleetd never
 * ran) as generation 1. rotate makes a new signing key certified as the
 * next generation, with the same floor (the previous key stays valid for
 * what it signed); revoke does the same with the floor raised to the new
 * generation, so every device that takes a manifest from the new key
 * refuses every older key from then on. fleetd signs with the new key
 * from its next start.
 *
 * Method: a rotation writes the new certificate (DATA/keys/<kid>.cert,
 * synced) before it replaces DATA/keys/signing.pem (a temporary file
 * created 0600 with O_EXCL, synced, renamed over the old key, the folder
 * synced). A crash before the rename leaves the old key and its
 * certificate in force and an unused certificate beside them; after it,
 * the new key and its certificate. The old private key is gone.
 */
#include "keys_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/sign_openssl.h"
#include "signer.h"

#define DEFAULT_LIFE_S (2ull * 365 * 86400)

static const char USAGE[] =
	"usage: fleetd keys init   [--root PATH] [--valid-for DURATION]\n"
	"       fleetd keys rotate [--root PATH] [--revoke] "
	"[--valid-for DURATION]\n"
	"       fleetd keys revoke [--root PATH] [--valid-for DURATION]\n"
	"       fleetd keys show\n"
	"  each also takes fleetd's --data DIR and --config FILE; the root\n"
	"  (default DATA/keys/root.pem) may live on removable media instead\n";

struct opts {
	const char *verb, *root, *data, *config;
	bool is_revoke;
	uint64_t life_s;
};

static int usage(const char *what)
{
	fprintf(stderr, "fleetd keys: %s\n%s", what, USAGE);
	return 2;
}

static int failed(const char *what)
{
	fprintf(stderr, "fleetd keys: %s\n", what);
	return 1;
}

/* "90s", "15m", "12h", "730d", "2w" or a sum such as "1d12h". */
static int parse_duration(const char *s, uint64_t *out_s)
{
	uint64_t total = 0;

	if (s == NULL || *s == '\0')
		return -1;
	while (*s) {
		uint64_t v = 0, unit;
		const char *start = s;

		while (*s >= '0' && *s <= '9') {
			if (v > 1000000000ull)
				return -1;
			v = v * 10 + (uint64_t)(*s++ - '0');
		}
		if (s == start)
			return -1;
		switch (*s++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		default: return -1;
		}
		total += v * unit;
		if (total > 100ull * 365 * 86400)
			return -1;
	}
	*out_s = total;
	return total == 0 ? -1 : 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->life_s = DEFAULT_LIFE_S;
	if (argc < 2)
		return usage("a verb is required");
	o->verb = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--revoke") == 0) {
			o->is_revoke = true;
			continue;
		}
		if (v == NULL)
			return usage("an option needs a value");
		i++;
		if (strcmp(a, "--root") == 0)
			o->root = v;
		else if (strcmp(a, "--data") == 0)
			o->data = v;
		else if (strcmp(a, "--config") == 0)
			o->config = v;
		else if (strcmp(a, "--valid-for") == 0) {
			if (parse_duration(v, &o->life_s) != 0)
				return usage("--valid-for: a duration such as "
					     "730d");
		} else
			return usage("unknown option");
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
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
	if (fd < 0 || fsync(fd) != 0)
		rc = -1;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Writes k (private) to path through path.tmp: created 0600 with O_EXCL,
 * synced, renamed (over an existing file only if is_replace; else
 * link(), which never replaces), the folder synced. */
static int write_key(const struct fl_sign_key *k, const char *path,
		     bool is_replace)
{
	char tmp[PATH_MAX + 8];
	FILE *f;
	int fd, rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	if (unlink(tmp) != 0 && errno != ENOENT)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		goto out;
	}
	if (fl_sign_key_write_pem(k, f) != 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		fclose(f);
		goto out;
	}
	if (fclose(f) != 0)
		goto out;
	if (is_replace)
		rc = rename(tmp, path);
	else
		rc = link(tmp, path);
	if (rc == 0)
		rc = fsync_dir_of(path);
out:
	(void)unlink(tmp);
	return rc;
}

/* The root: loaded, or made at path when init finds none. */
static int root_key(const char *path, bool may_create, struct fl_sign_key **k)
{
	struct fl_sign_diag sd = {""};
	char msg[PATH_MAX + 128];
	struct stat sb;
	int rc;

	rc = fl_sign_key_load_pem(k, path, true, &sd);
	if (rc == 0) {
		if (stat(path, &sb) == 0 &&
		    (sb.st_mode & (S_IRWXG | S_IRWXO))) {
			fl_sign_key_free(*k);
			*k = NULL;
			snprintf(msg, sizeof(msg),
				 "%s: group or others may read the root key; "
				 "refusing it (chmod 600 it)",
				 path);
			return failed(msg);
		}
		return 0;
	}
	if (rc != FL_ENOENT || !may_create)
		return failed(sd.msg);
	if (fl_sign_key_generate(k, &sd) != 0)
		return failed(sd.msg);
	if (write_key(*k, path, false) != 0) {
		fl_sign_key_free(*k);
		*k = NULL;
		snprintf(msg, sizeof(msg), "%s: cannot write: %s", path,
			 strerror(errno));
		return failed(msg);
	}
	printf("root key made: %s\n", path);
	return 0;
}

static int write_root_pub(const struct fl_sign_key *root, const char *keys)
{
	char hex[FL_SIGN_PUB_HEX_MAX], path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	fl_sign_key_pub_hex(root, hex);
	if (snprintf(path, sizeof(path), "%s/root.pub", keys) >=
		    (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return failed("path too long");
	f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "%s\n", hex) < 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0 || fclose(f) != 0 || rename(tmp, path) != 0 ||
	    fsync_dir_of(path) != 0) {
		if (f != NULL)
			(void)unlink(tmp);
		return failed("cannot write root.pub");
	}
	printf("devices' roots entry: %s\n", path);
	return 0;
}

static void print_cert(const uint8_t raw[FL_CERT_BYTES])
{
	struct fl_manifest_cert c;
	uint8_t kid[FL_MANIFEST_KID_BYTES];
	char k[2 * FL_MANIFEST_KID_BYTES + 1], r[sizeof(k)];
	char t[2][32];

	if (fl_manifest_cert_decode(&c, raw) != 0 ||
	    fl_manifest_kid(kid, &fl_crypto_openssl, c.pub) != 0)
		return;
	(void)fl_hex_encode(k, sizeof(k), kid, sizeof(kid));
	(void)fl_hex_encode(r, sizeof(r), c.root_kid, sizeof(c.root_kid));
	for (int i = 0; i < 2; i++) {
		time_t tt = (time_t)(i ? c.not_after : c.not_before);
		struct tm tm;

		if (gmtime_r(&tt, &tm) == NULL ||
		    strftime(t[i], sizeof(t[i]), "%Y-%m-%dT%H:%M:%SZ", &tm) ==
			    0)
			snprintf(t[i], sizeof(t[i]), "%lld", (long long)tt);
	}
	printf("signing key %s: generation %u, floor %u, root %s, valid %s "
	       "to %s\n",
	       k, (unsigned)c.generation, (unsigned)c.floor, r, t[0], t[1]);
}

static int cert_path(char *out, size_t cap, const char *keys,
		     const struct fl_sign_key *k)
{
	char kid[FL_SIGN_KID_HEX_MAX];

	fl_sign_key_kid_hex(k, kid);
	return snprintf(out, cap, "%s/%s.cert", keys, kid) >= (int)cap ? -1 : 0;
}

/* Certifies key with root and writes the certificate beside it. */
static int certify(const struct fl_sign_key *root,
		   const struct fl_sign_key *key, const char *keys,
		   uint16_t generation, uint16_t floor, uint64_t life_s)
{
	struct fl_manifest_cert c;
	struct fl_sign_diag sd = {""};
	uint8_t raw[FL_CERT_BYTES];
	char path[PATH_MAX];

	memset(&c, 0, sizeof(c));
	c.roles = FL_CERT_ROLE_RELEASE | FL_CERT_ROLE_ROLLBACK;
	c.generation = generation;
	c.floor = floor;
	c.not_before = (uint64_t)time(NULL);
	c.not_after = c.not_before + life_s;
	memcpy(c.pub, fl_sign_key_pub(key), FL_MANIFEST_PUB_BYTES);
	if (fl_sign_key_certify(root, raw, &c) != 0)
		return failed("cannot certify the signing key");
	if (cert_path(path, sizeof(path), keys, key) != 0)
		return failed("path too long");
	if (fl_sign_cert_write(path, raw, &sd) != 0)
		return failed(sd.msg);
	print_cert(raw);
	return 0;
}

/* The signing key (private) and its certificate, as fleetd has them. */
static int current(const char *keys, struct fl_sign_key **k,
		   uint8_t cert[FL_CERT_BYTES], bool *has_cert)
{
	struct fl_sign_diag sd = {""};
	char path[PATH_MAX];
	int rc;

	snprintf(path, sizeof(path), "%s/signing.pem", keys);
	if (fl_sign_key_load_pem(k, path, true, &sd) != 0)
		return failed(sd.msg);
	if (cert_path(path, sizeof(path), keys, *k) != 0)
		return failed("path too long");
	rc = fl_sign_cert_read(path, cert, &sd);
	*has_cert = rc == 0;
	if (rc != 0 && rc != FL_ENOENT)
		return failed(sd.msg);
	return 0;
}

static int cmd_init(const struct opts *o, const char *data, const char *keys,
		    const char *root_path)
{
	struct fl_signer_diag diag = {""};
	struct fl_signer *s = NULL;
	struct fl_sign_key *root = NULL, *key = NULL;
	uint8_t cert[FL_CERT_BYTES];
	bool has_cert = false;
	int rc;

	/* Makes the signing key as fleetd's first start would. */
	if (fl_signer_open(&s, data, &diag) != 0)
		return failed(diag.msg);
	fl_signer_free(s);
	rc = current(keys, &key, cert, &has_cert);
	if (rc == 0 && has_cert) {
		print_cert(cert);
		rc = failed("the signing key is already certified: use rotate "
			    "or revoke");
	}
	if (rc == 0)
		rc = root_key(root_path, true, &root);
	if (rc == 0)
		rc = write_root_pub(root, keys);
	if (rc == 0)
		rc = certify(root, key, keys, 1, 1, o->life_s);
	if (rc == 0)
		printf("fleetd signs envelopes 2 from its next start\n");
	fl_sign_key_free(root);
	fl_sign_key_free(key);
	return rc;
}

static int cmd_rotate(const struct opts *o, const char *keys,
		      const char *root_path)
{
	struct fl_sign_diag sd = {""};
	struct fl_manifest_cert c;
	struct fl_sign_key *root = NULL, *key = NULL, *next = NULL;
	uint8_t cert[FL_CERT_BYTES];
	char path[PATH_MAX];
	bool has_cert = false;
	uint16_t gen, floor;
	int rc;

	rc = current(keys, &key, cert, &has_cert);
	if (rc == 0 && !has_cert)
		rc = failed("the signing key is not certified: run `fleetd "
			    "keys init` first");
	if (rc == 0 && fl_manifest_cert_decode(&c, cert) != 0)
		rc = failed("the signing key's certificate is malformed");
	if (rc == 0 && c.generation == UINT16_MAX)
		rc = failed("no generation is left after 65535");
	if (rc == 0)
		rc = root_key(root_path, false, &root);
	if (rc == 0 && memcmp(fl_sign_key_kid(root), c.root_kid,
			      FL_MANIFEST_KID_BYTES) != 0)
		rc = failed("--root: not the root that certified the signing "
			    "key");
	if (rc == 0 && fl_sign_key_generate(&next, &sd) != 0)
		rc = failed(sd.msg);
	if (rc != 0)
		goto out;
	gen = (uint16_t)(c.generation + 1);
	floor = o->is_revoke ? gen : c.floor;
	rc = certify(root, next, keys, gen, floor, o->life_s);
	if (rc != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/signing.pem", keys);
	if (write_key(next, path, true) != 0) {
		rc = failed("cannot replace signing.pem");
		goto out;
	}
	printf("%s: generation %u%s; restart fleetd to sign with it\n", path,
	       (unsigned)gen,
	       o->is_revoke ? ", every older generation revoked" : "");
out:
	fl_sign_key_free(root);
	fl_sign_key_free(key);
	fl_sign_key_free(next);
	return rc;
}

static int cmd_show(const char *keys)
{
	struct fl_sign_key *key = NULL;
	struct fl_manifest_key pub;
	uint8_t cert[FL_CERT_BYTES];
	char kid[FL_SIGN_KID_HEX_MAX], path[PATH_MAX], line[256];
	bool has_cert = false;
	size_t n;
	FILE *f;
	int rc = current(keys, &key, cert, &has_cert);

	if (rc != 0)
		return rc;
	if (has_cert) {
		print_cert(cert);
	} else {
		fl_sign_key_kid_hex(key, kid);
		printf("signing key %s: not certified (envelopes 1; fleetd "
		       "keys init)\n",
		       kid);
	}
	if (snprintf(path, sizeof(path), "%s/root.pub", keys) >=
	    (int)sizeof(path))
		path[0] = '\0';
	f = path[0] ? fopen(path, "re") : NULL;
	if (f != NULL) {
		n = fread(line, 1, sizeof(line) - 1, f);
		fclose(f);
		if (fl_manifest_key_parse(&pub, &fl_crypto_openssl, line, n) ==
		    0) {
			(void)fl_hex_encode(kid, sizeof(kid), pub.kid,
					    sizeof(pub.kid));
			printf("root %s: %s\n", kid, path);
		}
	}
	fl_sign_key_free(key);
	return 0;
}

int fld_keys_main(int argc, char **argv)
{
	struct opts o;
	char data[PATH_MAX], keys[PATH_MAX], root[PATH_MAX];
	int rc = parse(argc, argv, &o);

	if (rc != 0)
		return rc;
	if (strcmp(o.verb, "--help") == 0 || strcmp(o.verb, "-h") == 0) {
		fputs(USAGE, stdout);
		return 0;
	}
	rc = fld_data_dir(o.data, o.config, data, sizeof(data), "fleetd keys");
	if (rc != 0)
		return rc;
	if (snprintf(keys, sizeof(keys), "%s/keys", data) >= (int)sizeof(keys))
		return failed("the data directory's path is too long");
	if ((o.root != NULL ? snprintf(root, sizeof(root), "%s", o.root)
			    : snprintf(root, sizeof(root), "%s/root.pem",
				       keys)) >= (int)sizeof(root))
		return failed("--root: path too long");
	if (strcmp(o.verb, "init") == 0) {
		if (fld_make_dirs(data) != 0)
			return failed("cannot make the data directory");
		return cmd_init(&o, data, keys, root);
	}
	if (strcmp(o.verb, "rotate") == 0)
		return cmd_rotate(&o, keys, root);
	if (strcmp(o.verb, "revoke") == 0) {
		o.is_revoke = true;
		return cmd_rotate(&o, keys, root);
	}
	if (strcmp(o.verb, "show") == 0)
		return cmd_show(keys);
	return usage("unknown verb");
}
