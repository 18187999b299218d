/*
 * seal_cmd.c -- fleet-manifest's commands for encrypted images, what an
 * operator needs without fleetd (docs/formats.md, "Encrypted image"):
 *
 *   seal     an image compressed and encrypted into a container, under a
 *            fresh content key (written 0600) or a given one
 *   wrapkey  a device's (or group's) wrap key: a P-256 private key, 0600;
 *            `fleet-manifest pubkey` prints its public half
 *   wrap     a content key wrapped for one device or group and one signed
 *            manifest: the base64 that goes in the offer's "key"
 *   sealed   what sign --sealed needs from a container: the header's
 *            compression and chunk size, its length and SHA-256
 *            (fl_seal_tool_inspect, used by fleet-manifest.c)
 *
 * Exit status as fleet-manifest's: 0 done, 1 refused or failed, 2 usage.
 */
#include "seal_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/proto.h"
#include "fl/seal_openssl.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE   2
#define KEY_HEX	     (2 * FL_AES256_KEY_BYTES)

static int usage(const char *what)
{
	fprintf(stderr, "fleet-manifest: %s\n", what);
	return EXIT_USAGE;
}

static int refused(const char *what, const char *detail)
{
	fprintf(stderr, "fleet-manifest: %s%s%s\n", what, detail ? ": " : "",
		detail ? detail : "");
	return EXIT_REFUSED;
}

/* A content key file: 64 hex digits and a newline, mode 0600. */
static int key_write(const char *path, const uint8_t key[FL_AES256_KEY_BYTES])
{
	char hex[KEY_HEX + 2];
	int fd, rc = 0;

	if (fl_hex_encode(hex, sizeof(hex), key, FL_AES256_KEY_BYTES) != 0)
		return refused("cannot encode the key", NULL);
	hex[KEY_HEX] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return refused(path, strerror(errno));
	if (write(fd, hex, KEY_HEX + 1) != KEY_HEX + 1 || fsync(fd) != 0)
		rc = refused(path, strerror(errno));
	if (close(fd) != 0 && rc == 0)
		rc = refused(path, strerror(errno));
	if (rc != 0)
		(void)unlink(path);
	return rc;
}

static int key_read(const char *path, uint8_t key[FL_AES256_KEY_BYTES])
{
	char buf[KEY_HEX + 8];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return refused(path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n != KEY_HEX ||
	    fl_hex_decode(key, FL_AES256_KEY_BYTES, buf, n) != 0)
		return refused(path, "not a content key (64 hex digits)");
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int fl_seal_tool_seal(int argc, char **argv)
{
	const char *in = NULL, *out = NULL, *key_out = NULL, *key_in = NULL;
	uint32_t chunk = 4 * FL_SEAL_CHUNK_MIN, level = FL_SEAL_LEVEL_DEFAULT;
	uint8_t zip = FL_SEAL_ZIP_ZSTD;
	uint8_t key[FL_AES256_KEY_BYTES];
	struct fl_seal_info info;
	struct fl_seal_diag d = {""};
	char sha[2 * FL_SHA256_BYTES + 1];
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			return usage("seal: an option without its value");
		i++;
		if (strcmp(a, "--in") == 0)
			in = v;
		else if (strcmp(a, "--out") == 0)
			out = v;
		else if (strcmp(a, "--key-out") == 0)
			key_out = v;
		else if (strcmp(a, "--content-key") == 0)
			key_in = v;
		else if (strcmp(a, "--zip") == 0 && strcmp(v, "zstd") == 0)
			zip = FL_SEAL_ZIP_ZSTD;
		else if (strcmp(a, "--zip") == 0 && strcmp(v, "none") == 0)
			zip = FL_SEAL_ZIP_NONE;
		else if (strcmp(a, "--chunk") == 0 && parse_u32(v, &chunk) == 0)
			continue;
		else if (strcmp(a, "--level") == 0 &&
			 parse_u32(v, &level) == 0 && level >= 1 && level <= 19)
			continue;
		else
			return usage("seal: bad option or value");
	}
	if (in == NULL || out == NULL || (key_out == NULL) == (key_in == NULL))
		return usage("seal: --in IMAGE --out CONTAINER and one of "
			     "--key-out KEY or --content-key KEY are required");
	if (chunk < FL_SEAL_CHUNK_MIN || chunk > FL_SEAL_CHUNK_MAX ||
	    chunk % FL_SEAL_CHUNK_MIN != 0)
		return usage("--chunk: a multiple of 4096 in 4096..1048576");
	if (key_in != NULL) {
		rc = key_read(key_in, key);
	} else {
		rc = fl_seal_random(key, sizeof(key)) == 0
			     ? key_write(key_out, key)
			     : refused("no random bytes", NULL);
	}
	if (rc != 0)
		return rc;
	rc = fl_seal_pack_file(in, out, key, zip, (int)level, chunk, &info, &d);
	memset(key, 0, sizeof(key));
	if (rc != 0) {
		if (key_out != NULL)
			(void)unlink(key_out);
		return refused("seal", d.msg[0] ? d.msg : fl_strerror(rc));
	}
	(void)fl_hex_encode(sha, sizeof(sha), info.enc_sha256, FL_SHA256_BYTES);
	printf("%s: %u bytes (image %u bytes, %s, chunks of %u), sha256 %s\n",
	       out, (unsigned)info.enc_len, (unsigned)info.plain_len,
	       zip == FL_SEAL_ZIP_ZSTD ? "zstd" : "stored",
	       (unsigned)info.chunk_bytes, sha);
	return 0;
}

int fl_seal_tool_wrapkey(int argc, char **argv)
{
	struct fl_seal_diag d = {""};

	if (argc != 2 || strcmp(argv[0], "--out") != 0)
		return usage("wrapkey: --out KEY.pem");
	if (fl_seal_wrap_key_create(argv[1], NULL, &d) != 0)
		return refused("wrapkey", d.msg);
	return 0;
}

int fl_seal_tool_wrap(int argc, char **argv)
{
	static char buf[8192];
	static struct fl_manifest_env env;
	const char *key_in = NULL, *man = NULL, *to = NULL, *name = NULL;
	uint8_t key[FL_AES256_KEY_BYTES], pub[65], digest[FL_SHA256_BYTES];
	uint8_t blob[FL_WRAP_BYTES];
	char text[((FL_WRAP_BYTES + 2) / 3) * 4 + 1];
	struct fl_seal_diag d = {""};
	struct fl_proto_diag pd = {""};
	size_t n;
	FILE *f;
	int rc;

	for (int i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--content-key") == 0)
			key_in = argv[i + 1];
		else if (strcmp(argv[i], "--manifest") == 0)
			man = argv[i + 1];
		else if (strcmp(argv[i], "--to") == 0)
			to = argv[i + 1];
		else if (strcmp(argv[i], "--name") == 0)
			name = argv[i + 1];
		else
			return usage("wrap: unknown option");
	}
	if (argc % 2 != 0 || !key_in || !man || !to || !name)
		return usage("wrap: --content-key KEY --manifest MANIFEST "
			     "--to WRAPKEY.pub --name DEVICE_ID|GROUP");
	rc = key_read(key_in, key);
	if (rc != 0)
		return rc;
	if (fl_seal_wrap_pub_load(pub, to, &d) != 0)
		return refused("wrap", d.msg);
	f = fopen(man, "r");
	if (f == NULL)
		return refused(man, strerror(errno));
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (fl_manifest_env_decode(&env, buf, n, &pd) != 0)
		return refused(man, pd.msg);
	/* The key is bound to the body's bytes: the device hashes the same. */
	if (fl_sha256(&fl_crypto_openssl, env.body, env.body_len, digest) !=
		    0 ||
	    fl_seal_wrap(blob, key, pub, name, digest, &d) != 0) {
		memset(key, 0, sizeof(key));
		return refused("wrap", d.msg[0] ? d.msg : "crypto failed");
	}
	memset(key, 0, sizeof(key));
	if (fl_base64_encode(text, sizeof(text), NULL, blob, sizeof(blob)) != 0)
		return refused("wrap", "cannot encode");
	printf("%s\n", text);
	return 0;
}

int fl_seal_tool_inspect(const char *path, struct fl_manifest *m)
{
	uint8_t hdr[FL_SEAL_HEADER_BYTES];
	static uint8_t buf[1 << 16];
	struct fl_seal_header h;
	struct fl_hash_ctx ctx;
	uint64_t len = 0;
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return refused(path, strerror(errno));
	if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr) ||
	    fl_seal_header_decode(&h, hdr) != 0) {
		fclose(f);
		return refused(path, "not an encrypted image container");
	}
	rewind(f);
	fl_crypto_openssl.sha256_init(&ctx);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		fl_crypto_openssl.sha256_update(&ctx, buf, n);
		len += n;
	}
	if (ferror(f) || len > UINT32_MAX) {
		fclose(f);
		return refused(path, "cannot read it, or over 4 GiB");
	}
	fclose(f);
	fl_crypto_openssl.sha256_final(&ctx, m->enc_sha256);
	if (h.plain_len != m->length)
		return refused(path, "holds an image of another length than "
				     "--file");
	m->v = FL_MANIFEST_BODY_SEALED;
	m->is_sealed = true;
	m->enc_zip = h.zip;
	m->enc_chunk = h.chunk_bytes;
	m->enc_length = (uint32_t)len;
	return 0;
}
