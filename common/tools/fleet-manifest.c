/*
 * fleet-manifest.c -- the project's signing tool: makes P-256 keys, signs
 * manifests for images, verifies and shows them.
 *
 *   fleet-manifest keygen --out KEY.pem
 *   fleet-manifest pubkey KEY.pem
 *   fleet-manifest sign --key KEY.pem --component C --version V
 *                       --hardware M[,M...] --file IMAGE --url URL --seq N
 *                       [--expires RFC3339 | --ttl DURATION] [--issued RFC3339]
 *                       [--from RANGE] [--rollback] [--out FILE]
 *                       [--cert KEY.cert]
 *   fleet-manifest certify --root ROOT.pem --key KEY.pem|KEY.pub
 *                       --generation N [--floor N] [--roles R[,R]]
 *                       [--not-before RFC3339] [--not-after RFC3339 |
 *                       --valid-for DURATION] --out KEY.cert
 *   fleet-manifest verify (--pub PUBKEY | --root ROOTPUB [--key-floor N])
 *                       MANIFEST
 *   fleet-manifest show MANIFEST
 *   fleet-manifest show-cert KEY.cert
 *
 * The manifest is built, hashed and checked by the same codec the devices
 * run (fl_proto, docs/formats.md "Signed manifest"); keys and signatures
 * come from fl_sign_openssl, shared with fleetd's signer. With --cert,
 * sign writes an envelope 2 carrying the signing key's certificate, which
 * certify makes with a root key (that root may live on a machine that
 * never runs fleetd: docs/security.md). Exit status: 0 success, 1 refused
 * or failed, 2 usage error; either way one line on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fl/bytes.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/proto.h"
#include "fl/sign_openssl.h"
#include "seal_cmd.h"

#define EXIT_REFUSED  1
#define EXIT_USAGE    2
#define DEFAULT_TTL_S (30ull * 24 * 3600)
#define FILE_MAX      (64 * 1024) /* a manifest or key file */

static const char USAGE[] =
	"usage: fleet-manifest keygen --out KEY.pem\n"
	"       fleet-manifest pubkey KEY.pem\n"
	"       fleet-manifest sign --key KEY.pem --component C --version V\n"
	"                --hardware M[,M...] --file IMAGE --url URL --seq N\n"
	"                [--expires RFC3339 | --ttl DURATION] [--issued "
	"RFC3339]\n"
	"                [--from RANGE] [--rollback] [--out FILE]\n"
	"                [--cert KEY.cert] [--sealed CONTAINER]\n"
	"       fleet-manifest seal --in IMAGE --out CONTAINER\n"
	"                (--key-out KEY | --content-key KEY) [--zip "
	"zstd|none]\n"
	"                [--chunk BYTES] [--level 1..19]\n"
	"       fleet-manifest wrapkey --out WRAPKEY.pem\n"
	"       fleet-manifest wrap --content-key KEY --manifest MANIFEST\n"
	"                --to WRAPKEY.pub --name DEVICE_ID|GROUP\n"
	"       fleet-manifest certify --root ROOT.pem --key KEY.pem|KEY.pub\n"
	"                --generation N [--floor N] [--roles "
	"release,rollback]\n"
	"                [--not-before RFC3339] [--not-after RFC3339 | "
	"--valid-for DURATION]\n"
	"                --out KEY.cert\n"
	"       fleet-manifest verify (--pub PUBKEY | --root ROOTPUB "
	"[--key-floor N]) MANIFEST\n"
	"       fleet-manifest show MANIFEST\n"
	"       fleet-manifest show-cert KEY.cert\n";

__attribute__((format(printf, 1, 2))) static int usage(const char *fmt, ...)
{
	va_list ap;

	fputs("fleet-manifest: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see fleet-manifest --help)\n", stderr);
	return EXIT_USAGE;
}

__attribute__((format(printf, 1, 2))) static int refuse(const char *fmt, ...)
{
	va_list ap;

	fputs("fleet-manifest: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	return EXIT_REFUSED;
}

/* ---- small parsers ------------------------------------------------------ */

/* Parses a decimal integer of [min, max]. Returns 0 or -1. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "90s", "15m", "12h", "30d", "2w", or a sum such as "1d12h". */
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
		if (total > FL_PROTO_UINT_MAX)
			return -1;
	}
	if (total == 0)
		return -1;
	*out_s = total;
	return 0;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) -> Unix seconds. */
static int parse_rfc3339(const char *s, uint64_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p;
	time_t t;
	long long v;

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' ||
	    digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		sign = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 &&
		   digits(p + 1, 2, &oh) == 0 && p[3] == ':' &&
		   digits(p + 4, 2, &om) == 0 && oh < 24 && om < 60) {
		sign = *p == '+' ? 1 : -1;
	} else {
		return -1;
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d) /* also refuses Feb 30 */
		return -1;
	v = (long long)t - sign * (oh * 3600LL + om * 60LL);
	if (v < 0 || (uint64_t)v > FL_PROTO_UINT_MAX)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static void format_time(char out[32], uint64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%llu", (unsigned long long)t);
}

/* Reads a whole small file (at most FILE_MAX bytes) into buf; NUL added. */
static int read_small(const char *path, char *buf, size_t size, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t n;
	int rc = 0;

	if (f == NULL)
		return refuse("%s: %s", path, strerror(errno));
	n = fread(buf, 1, size - 1, f);
	if (ferror(f))
		rc = refuse("%s: read error", path);
	else if (!feof(f) && fgetc(f) != EOF)
		rc = refuse("%s: larger than %zu bytes", path, size - 1);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return rc;
}

/* ---- keys ---------------------------------------------------------------- */

/* Loads a PEM private or public key on P-256; NULL (said on stderr) if it
 * cannot. The key is the caller's (fl_sign_key_free). */
static struct fl_sign_key *load_pem(const char *path, int want_private)
{
	struct fl_sign_diag diag = {""};
	struct fl_sign_key *k = NULL;

	if (fl_sign_key_load_pem(&k, path, want_private != 0, &diag) != 0) {
		refuse("%s", diag.msg);
		return NULL;
	}
	return k;
}

static int cmd_keygen(int argc, char **argv)
{
	const char *out = NULL;
	struct fl_sign_diag diag = {""};
	struct fl_sign_key *key = NULL;
	char kid_hex[FL_SIGN_KID_HEX_MAX];
	FILE *f = NULL;
	int fd = -1, rc = EXIT_REFUSED;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else
			return usage("keygen: unexpected '%s'", argv[i]);
	}
	if (out == NULL)
		return usage("keygen: --out KEY.pem is required");
	if (fl_sign_key_generate(&key, &diag) != 0) {
		refuse("%s", diag.msg);
		goto out;
	}
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			refuse("%s exists: refusing to overwrite a key", out);
		else
			refuse("%s: %s", out, strerror(errno));
		goto out;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		refuse("%s: %s", out, strerror(errno));
		goto out;
	}
	fd = -1;
	if (fl_sign_key_write_pem(key, f) != 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		refuse("%s: write failed", out);
		unlink(out);
		goto out;
	}
	fl_sign_key_kid_hex(key, kid_hex);
	printf("%s: P-256 key, kid %s\n", out, kid_hex);
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	fl_sign_key_free(key);
	return rc;
}

static int cmd_pubkey(int argc, char **argv)
{
	char hex[FL_SIGN_PUB_HEX_MAX];
	struct fl_sign_key *key;

	if (argc != 1 || argv[0][0] == '-')
		return usage("pubkey: expects one KEY.pem");
	key = load_pem(argv[0], 0);
	if (key == NULL)
		return EXIT_REFUSED;
	fl_sign_key_pub_hex(key, hex);
	fl_sign_key_free(key);
	printf("%s\n", hex);
	return 0;
}

/* Reads a trusted key: a file holding the hex line `pubkey` prints, or a
 * PEM public or private key. */
static int load_trusted(const char *path, struct fl_manifest_key *key)
{
	static char buf[FILE_MAX];
	struct fl_sign_key *k;
	size_t len;
	int rc = read_small(path, buf, sizeof(buf), &len);

	if (rc)
		return rc;
	if (strstr(buf, "-----BEGIN") == NULL) {
		if (fl_manifest_key_parse(key, &fl_crypto_openssl, buf, len))
			return refuse("%s: not a public key (130 hex digits "
				      "or PEM)",
				      path);
		return 0;
	}
	k = load_pem(path, 0);
	if (k == NULL)
		return EXIT_REFUSED;
	memcpy(key->pub, fl_sign_key_pub(k), sizeof(key->pub));
	memcpy(key->kid, fl_sign_key_kid(k), sizeof(key->kid));
	fl_sign_key_free(k);
	return 0;
}

/* Reads a certificate file (fl_sign_cert_read). */
static int load_cert(const char *path, uint8_t cert[FL_CERT_BYTES])
{
	struct fl_sign_diag diag = {""};

	if (fl_sign_cert_read(path, cert, &diag) != 0)
		return refuse("%s", diag.msg);
	return 0;
}

static void format_time(char out[32], uint64_t t);

static void print_cert(const uint8_t raw[FL_CERT_BYTES])
{
	struct fl_manifest_cert c;
	uint8_t kid[FL_MANIFEST_KID_BYTES];
	char root[2 * FL_MANIFEST_KID_BYTES + 1], k[sizeof(root)];
	char t1[32], t2[32];

	if (fl_manifest_cert_decode(&c, raw) != 0 ||
	    fl_manifest_kid(kid, &fl_crypto_openssl, c.pub) != 0)
		return;
	(void)fl_hex_encode(root, sizeof(root), c.root_kid, sizeof(c.root_kid));
	(void)fl_hex_encode(k, sizeof(k), kid, sizeof(kid));
	format_time(t1, c.not_before);
	format_time(t2, c.not_after);
	printf("key: %s\nroot: %s\ngeneration: %u\nfloor: %u\n"
	       "roles: %s%s%s\nnot before: %s\nnot after: %s\n",
	       k, root, (unsigned)c.generation, (unsigned)c.floor,
	       c.roles & FL_CERT_ROLE_RELEASE ? "release" : "",
	       c.roles == (FL_CERT_ROLE_RELEASE | FL_CERT_ROLE_ROLLBACK) ? ","
									 : "",
	       c.roles & FL_CERT_ROLE_ROLLBACK ? "rollback" : "", t1, t2);
}

static int parse_roles(const char *s, uint8_t *roles)
{
	*roles = 0;
	while (*s) {
		size_t n = strcspn(s, ",");

		if (n == 7 && strncmp(s, "release", n) == 0)
			*roles |= FL_CERT_ROLE_RELEASE;
		else if (n == 8 && strncmp(s, "rollback", n) == 0)
			*roles |= FL_CERT_ROLE_ROLLBACK;
		else
			return -1;
		s += n;
		if (*s == ',')
			s++;
	}
	return *roles ? 0 : -1;
}

static int cmd_certify(int argc, char **argv)
{
	struct fl_manifest_cert c;
	struct fl_manifest_key signing;
	struct fl_sign_diag diag = {""};
	struct fl_sign_key *root = NULL;
	uint8_t raw[FL_CERT_BYTES];
	const char *root_path = NULL, *key = NULL, *out = NULL;
	const char *not_before = NULL, *not_after = NULL, *valid_for = NULL;
	uint64_t v, life_s = 2 * 365 * 86400ull;
	bool has_floor = false;
	int rc, err;

	memset(&c, 0, sizeof(c));
	c.roles = FL_CERT_ROLE_RELEASE | FL_CERT_ROLE_ROLLBACK;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (val == NULL || strncmp(a, "--", 2) != 0)
			return usage("certify: unexpected '%s'", a);
		i++;
		if (strcmp(a, "--root") == 0) {
			root_path = val;
		} else if (strcmp(a, "--key") == 0) {
			key = val;
		} else if (strcmp(a, "--out") == 0) {
			out = val;
		} else if (strcmp(a, "--generation") == 0) {
			if (parse_u64(val, 1, 65535, &v))
				return usage("--generation: not 1..65535");
			c.generation = (uint16_t)v;
		} else if (strcmp(a, "--floor") == 0) {
			if (parse_u64(val, 1, 65535, &v))
				return usage("--floor: not 1..65535");
			c.floor = (uint16_t)v;
			has_floor = true;
		} else if (strcmp(a, "--roles") == 0) {
			if (parse_roles(val, &c.roles))
				return usage("--roles: release, rollback or "
					     "release,rollback");
		} else if (strcmp(a, "--not-before") == 0) {
			not_before = val;
		} else if (strcmp(a, "--not-after") == 0) {
			not_after = val;
		} else if (strcmp(a, "--valid-for") == 0) {
			valid_for = val;
		} else {
			return usage("certify: unknown option '%s'", a);
		}
	}
	if (root_path == NULL || key == NULL || out == NULL ||
	    c.generation == 0)
		return usage("certify: --root, --key, --generation and --out "
			     "are required");
	if (not_after && valid_for)
		return usage("certify: --not-after and --valid-for exclude "
			     "each other");
	if (!has_floor)
		c.floor = 1;
	if (c.floor > c.generation)
		return usage("--floor: above --generation (it would revoke "
			     "the key it certifies)");
	c.not_before = (uint64_t)time(NULL);
	if (not_before && parse_rfc3339(not_before, &c.not_before))
		return usage("--not-before: not an RFC 3339 time");
	if (valid_for && parse_duration(valid_for, &life_s))
		return usage("--valid-for: not a duration such as 730d");
	if (not_after) {
		if (parse_rfc3339(not_after, &c.not_after))
			return usage("--not-after: not an RFC 3339 time");
	} else {
		c.not_after = c.not_before + life_s;
	}
	if (c.not_after <= c.not_before || c.not_after > FL_PROTO_UINT_MAX)
		return refuse("certify: the validity ends before it starts");
	rc = load_trusted(key, &signing);
	if (rc)
		return rc;
	memcpy(c.pub, signing.pub, sizeof(c.pub));
	if (fl_sign_key_load_pem(&root, root_path, true, &diag) != 0)
		return refuse("%s", diag.msg);
	if (memcmp(fl_sign_key_pub(root), c.pub, sizeof(c.pub)) == 0) {
		fl_sign_key_free(root);
		return refuse("certify: the root would certify itself; a "
			      "signing key must be another key");
	}
	err = fl_sign_key_certify(root, raw, &c);
	fl_sign_key_free(root);
	if (err)
		return refuse("cannot certify: %s", fl_strerror(err));
	if (fl_sign_cert_write(out, raw, &diag) != 0)
		return refuse("%s", diag.msg);
	print_cert(raw);
	return 0;
}

static int cmd_show_cert(int argc, char **argv)
{
	uint8_t raw[FL_CERT_BYTES];

	if (argc != 1 || argv[0][0] == '-')
		return usage("show-cert: expects one KEY.cert");
	if (load_cert(argv[0], raw) != 0)
		return EXIT_REFUSED;
	printf("certificate (its root's signature NOT checked)\n");
	print_cert(raw);
	return 0;
}

/* ---- sign ---------------------------------------------------------------- */

/* Streams the image through SHA-256; its length must fit in 32 bits. */
static int hash_image(const char *path, struct fl_manifest *m)
{
	static uint8_t buf[64 * 1024];
	struct fl_hash_ctx ctx;
	const struct fl_crypto_ops *c = &fl_crypto_openssl;
	uint64_t total = 0;
	FILE *f = fopen(path, "rb");
	size_t n;
	int rc = 0;

	if (f == NULL)
		return refuse("%s: %s", path, strerror(errno));
	if (c->sha256_init(&ctx)) {
		fclose(f);
		return refuse("hashing failed");
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		total += n;
		if (total > UINT32_MAX) {
			rc = refuse("%s: larger than 4 GiB - 1", path);
			break;
		}
		if (c->sha256_update(&ctx, buf, n)) {
			rc = refuse("hashing failed");
			break;
		}
	}
	if (rc == 0 && ferror(f))
		rc = refuse("%s: read error", path);
	if (rc == 0 && total == 0)
		rc = refuse("%s: empty image", path);
	if (rc == 0 && c->sha256_final(&ctx, m->sha256))
		rc = refuse("hashing failed");
	fclose(f);
	m->length = (uint32_t)total;
	return rc;
}

static int split_hardware(struct fl_manifest *m, const char *list)
{
	const char *p = list;

	while (1) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (m->n_hardware == FL_MANIFEST_HW_MAX)
			return usage("--hardware: at most %d models",
				     FL_MANIFEST_HW_MAX);
		if (n == 0 || n >= FL_PROTO_NAME_MAX)
			return usage("--hardware: empty or too long model");
		memcpy(m->hardware[m->n_hardware], p, n);
		m->hardware[m->n_hardware][n] = '\0';
		m->n_hardware++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

/* Writes data to path (created 0644, replaced) or to stdout when NULL. */
static int write_out(const char *path, const char *data, size_t len)
{
	FILE *f = path ? fopen(path, "w") : stdout;
	int rc = 0;

	if (f == NULL)
		return refuse("%s: %s", path, strerror(errno));
	if (fwrite(data, 1, len, f) != len || fputc('\n', f) == EOF ||
	    fflush(f) != 0)
		rc = refuse("%s: write failed", path ? path : "stdout");
	if (path != NULL && fclose(f) != 0 && rc == 0)
		rc = refuse("%s: write failed", path);
	return rc;
}

static int set_str(char *dst, size_t size, const char *v, const char *opt)
{
	if (fl_strlcpy(dst, v, size) != 0)
		return usage("%s: longer than %zu characters", opt, size - 1);
	return 0;
}

static int cmd_sign(int argc, char **argv)
{
	static struct fl_manifest m;
	static struct fl_manifest_env env;
	static char text[FL_PROTO_MSG_MAX + 1];
	const char *key = NULL, *file = NULL, *out = NULL, *cert = NULL;
	const char *expires = NULL, *ttl = NULL, *issued = NULL;
	const char *sealed = NULL;
	uint8_t cert_bytes[FL_CERT_BYTES];
	bool has_component = false, has_version = false, has_url = false;
	bool has_seq = false;
	struct fl_proto_diag diag = {""};
	struct fl_sign_key *skey = NULL;
	uint64_t ttl_s = DEFAULT_TTL_S;
	size_t len;
	int rc = 0, err;

	memset(&m, 0, sizeof(m));
	m.v = FL_MANIFEST_BODY_VERSION;
	for (int i = 0; i < argc && rc == 0; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--rollback") == 0) {
			m.is_rollback = true;
			continue;
		}
		if (v == NULL || strncmp(a, "--", 2) != 0)
			return usage("sign: unexpected '%s'", a);
		i++;
		if (strcmp(a, "--key") == 0) {
			key = v;
		} else if (strcmp(a, "--component") == 0) {
			rc = set_str(m.component, sizeof(m.component), v, a);
			has_component = true;
		} else if (strcmp(a, "--version") == 0) {
			rc = set_str(m.version, sizeof(m.version), v, a);
			has_version = true;
		} else if (strcmp(a, "--hardware") == 0) {
			rc = split_hardware(&m, v);
		} else if (strcmp(a, "--file") == 0) {
			file = v;
		} else if (strcmp(a, "--url") == 0) {
			rc = set_str(m.url, sizeof(m.url), v, a);
			has_url = true;
		} else if (strcmp(a, "--seq") == 0) {
			if (parse_u64(v, 1, FL_PROTO_UINT_MAX, &m.seq))
				return usage("--seq: not 1..10^15-1");
			has_seq = true;
		} else if (strcmp(a, "--expires") == 0) {
			expires = v;
		} else if (strcmp(a, "--ttl") == 0) {
			ttl = v;
		} else if (strcmp(a, "--issued") == 0) {
			issued = v;
		} else if (strcmp(a, "--from") == 0) {
			rc = set_str(m.from, sizeof(m.from), v, a);
		} else if (strcmp(a, "--out") == 0) {
			out = v;
		} else if (strcmp(a, "--cert") == 0) {
			cert = v;
		} else if (strcmp(a, "--sealed") == 0) {
			sealed = v;
		} else {
			return usage("sign: unknown option '%s'", a);
		}
	}
	if (rc)
		return rc;
	if (!key || !file || !has_component || !has_version || !has_url ||
	    !has_seq || m.n_hardware == 0)
		return usage("sign: --key, --component, --version, --hardware, "
			     "--file, --url and --seq are required");
	if (expires && ttl)
		return usage("sign: --expires and --ttl exclude each other");
	if (strncmp(m.url, "http://", 7) != 0 &&
	    strncmp(m.url, "https://", 8) != 0)
		return usage("--url: must be http:// or https://");
	m.issued = (uint64_t)time(NULL);
	if (issued && parse_rfc3339(issued, &m.issued))
		return usage("--issued: not an RFC 3339 time");
	if (ttl && parse_duration(ttl, &ttl_s))
		return usage("--ttl: not a duration such as 30d, 12h, 1d12h");
	if (expires) {
		if (parse_rfc3339(expires, &m.expires))
			return usage("--expires: not an RFC 3339 time");
	} else {
		m.expires = m.issued + ttl_s;
	}
	if (m.expires <= m.issued)
		return refuse("--expires is not after the time of signing");

	rc = hash_image(file, &m);
	if (rc)
		return rc;
	/* Body format 2: the url serves the container; the manifest names
	 * both it and the image it holds. */
	if (sealed != NULL && (rc = fl_seal_tool_inspect(sealed, &m)) != 0)
		return rc;
	if (cert != NULL && load_cert(cert, cert_bytes) != 0)
		return EXIT_REFUSED;
	skey = load_pem(key, 1);
	if (skey == NULL)
		return EXIT_REFUSED;
	/* The codec checks every field the device will check. */
	if (fl_manifest_validate(&m, &diag) != 0) {
		rc = usage("sign: %s", diag.msg);
		goto out;
	}
	if (cert != NULL)
		err = fl_sign_key_seal_certified(skey, &env, &m, cert_bytes);
	else
		err = fl_sign_key_seal(skey, &env, &m);
	if (err == FL_EINVAL && cert != NULL) {
		rc = refuse("cannot sign: %s does not certify %s", cert, key);
		goto out;
	}
	if (err) {
		rc = refuse("cannot sign: %s%s", fl_strerror(err),
			    err != FL_ETOOBIG ? ""
			    : sealed != NULL  ? " (body over 672 bytes)"
			    : cert != NULL    ? " (body over 800 bytes)"
					      : " (body over 896 bytes)");
		goto out;
	}
	err = fl_manifest_env_encode(text, sizeof(text), &len, &env);
	if (err) {
		rc = refuse("cannot encode the envelope: %s", fl_strerror(err));
		goto out;
	}
	rc = write_out(out, text, len);
out:
	fl_sign_key_free(skey);
	return rc;
}

/* ---- verify and show ----------------------------------------------------- */

static int load_env(const char *path, struct fl_manifest_env *env)
{
	static char buf[FILE_MAX];
	struct fl_proto_diag diag = {""};
	size_t len;
	int err, rc = read_small(path, buf, sizeof(buf), &len);

	if (rc)
		return rc;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	err = fl_manifest_env_decode(env, buf, len, &diag);
	if (err)
		return refuse("%s: not a manifest envelope: %s", path,
			      diag.msg[0] ? diag.msg : fl_strerror(err));
	return 0;
}

static void print_manifest(const struct fl_manifest *m)
{
	char sha[2 * FL_SHA256_BYTES + 1], t1[32], t2[32];

	(void)fl_hex_encode(sha, sizeof(sha), m->sha256, sizeof(m->sha256));
	format_time(t1, m->issued);
	format_time(t2, m->expires);
	printf("component: %s\nversion: %s\nhardware: ", m->component,
	       m->version);
	for (unsigned i = 0; i < m->n_hardware; i++)
		printf("%s%s", i ? "," : "", m->hardware[i]);
	printf("\nlength: %u\nsha256: %s\nurl: %s\nseq: %llu\n"
	       "issued: %s\nexpires: %s\nrollback: %s\n",
	       (unsigned)m->length, sha, m->url, (unsigned long long)m->seq, t1,
	       t2, m->is_rollback ? "yes" : "no");
	if (m->from[0])
		printf("from: %s\n", m->from);
	if (m->is_sealed) {
		(void)fl_hex_encode(sha, sizeof(sha), m->enc_sha256,
				    sizeof(m->enc_sha256));
		printf("encrypted: %s, chunks of %u, container %u bytes, "
		       "sha256 %s\n",
		       m->enc_zip ? "zstd" : "stored", (unsigned)m->enc_chunk,
		       (unsigned)m->enc_length, sha);
	}
}

static int cmd_verify(int argc, char **argv)
{
	static struct fl_manifest_env env;
	struct fl_manifest_key key;
	struct fl_manifest_trust t;
	struct fl_manifest_signer who;
	struct fl_manifest m;
	struct fl_proto_diag diag = {""};
	const char *pub = NULL, *root = NULL, *path = NULL;
	char when[32];
	uint64_t floor = 0;
	int err, rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--pub") == 0 && i + 1 < argc)
			pub = argv[++i];
		else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc)
			root = argv[++i];
		else if (strcmp(argv[i], "--key-floor") == 0 && i + 1 < argc) {
			if (parse_u64(argv[++i], 0, 65535, &floor))
				return usage("--key-floor: not 0..65535");
		} else if (argv[i][0] != '-' && path == NULL)
			path = argv[i];
		else
			return usage("verify: unexpected '%s'", argv[i]);
	}
	if ((pub == NULL) == (root == NULL) || path == NULL)
		return usage("verify: --pub PUBKEY or --root ROOTPUB, and "
			     "MANIFEST, are required");
	rc = load_trusted(pub != NULL ? pub : root, &key);
	if (rc == 0)
		rc = load_env(path, &env);
	if (rc)
		return rc;
	memset(&t, 0, sizeof(t));
	if (pub != NULL) {
		t.keys = &key;
		t.n_keys = 1;
	} else {
		t.roots = &key;
		t.n_roots = 1;
	}
	t.key_floor = (uint16_t)floor;
	t.now = (uint64_t)time(NULL);
	err = fl_manifest_verify_trusted(&m, &who, &env, &t, &fl_crypto_openssl,
					 &diag);
	if (err == FL_ENOENT)
		return refuse("%s: signed by another %s", path,
			      pub != NULL ? "key (or certified by a root: "
					    "--root)"
					  : "root, or not certified (--pub)");
	if (err == FL_EVERIFY)
		return refuse("%s: bad signature%s", path,
			      who.reason[0] ? " on the key's certificate" : "");
	if (err == FL_EROLLBACK || err == FL_ESTATE)
		return refuse("%s: %s", path, diag.msg);
	if (err)
		return refuse("%s: signature valid but manifest refused: %s",
			      path, diag.msg[0] ? diag.msg : fl_strerror(err));
	if ((uint64_t)time(NULL) >= m.expires) {
		format_time(when, m.expires);
		return refuse("%s: expired at %s", path, when);
	}
	printf("OK %s %s seq %llu%s", m.component, m.version,
	       (unsigned long long)m.seq, m.is_rollback ? " rollback" : "");
	if (who.generation != 0)
		printf(" key generation %u floor %u", (unsigned)who.generation,
		       (unsigned)who.floor);
	printf("\n");
	return 0;
}

static int cmd_show(int argc, char **argv)
{
	static struct fl_manifest_env env;
	struct fl_manifest m;
	struct fl_proto_diag diag = {""};
	char kid[2 * FL_MANIFEST_KID_BYTES + 1];
	int err, rc;

	if (argc != 1 || argv[0][0] == '-')
		return usage("show: expects one MANIFEST");
	rc = load_env(argv[0], &env);
	if (rc)
		return rc;
	(void)fl_hex_encode(kid, sizeof(kid), env.kid, sizeof(env.kid));
	printf("envelope: v%u, kid %s, body %u bytes, signature NOT checked\n",
	       (unsigned)env.v, kid, (unsigned)env.body_len);
	if (env.v == FL_MANIFEST_ENV_CERTIFIED)
		print_cert(env.cert);
	err = fl_manifest_body_decode_unverified(&m, env.body, env.body_len,
						 &diag);
	if (err)
		return refuse("%s: body refused: %s", argv[0],
			      diag.msg[0] ? diag.msg : fl_strerror(err));
	print_manifest(&m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage("a command is required");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(USAGE, stdout);
		return 0;
	}
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 2, argv + 2);
	if (strcmp(argv[1], "pubkey") == 0)
		return cmd_pubkey(argc - 2, argv + 2);
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc - 2, argv + 2);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 2, argv + 2);
	if (strcmp(argv[1], "show") == 0)
		return cmd_show(argc - 2, argv + 2);
	if (strcmp(argv[1], "certify") == 0)
		return cmd_certify(argc - 2, argv + 2);
	if (strcmp(argv[1], "show-cert") == 0)
		return cmd_show_cert(argc - 2, argv + 2);
	if (strcmp(argv[1], "seal") == 0)
		return fl_seal_tool_seal(argc - 2, argv + 2);
	if (strcmp(argv[1], "wrapkey") == 0)
		return fl_seal_tool_wrapkey(argc - 2, argv + 2);
	if (strcmp(argv[1], "wrap") == 0)
		return fl_seal_tool_wrap(argc - 2, argv + 2);
	return usage("unknown command '%s'", argv[1]);
}
