/*
 * artifacts.c -- fleetd's images: uploaded over the API, kept on disk by
 * SHA-256, recorded in the store, and served to devices with byte ranges.
 *
 * Method: an upload (PUT /api/v1/artifacts/{sha256}) streams into
 * DATA/artifacts/tmp-XXXXXX while OpenSSL hashes it; a body over the limit
 * is refused (413: at once when Content-Length says so; else it stops being
 * written when it passes the limit, and is answered at its end). At the end the
 * digest must be the one in the URL, else the file is removed (400
 * digest_mismatch). Only then is the file fsynced, renamed to
 * DATA/artifacts/<sha256>, the directory fsynced, and the image recorded
 * (fl_store_artifact_put): a crash at any point leaves either no record or a
 * record of a complete, durable file, and at worst a tmp-* file that the next
 * start removes. The name is the content's digest, so two uploads of the same
 * image write the same bytes to the same name, and an image already stored is
 * answered 200 without reading its body.
 *
 * Sealed uploads (the default when fleetd has image keys; ?encrypt=false
 * stores the image plain): the body streams through the packer
 * (fl/seal_openssl.h: zstd, AES-256-GCM, chunks of FLD_IMG_CHUNK, a fresh
 * random content key; ?compress=false and ?chunk=N choose another form,
 * for devices without zstd or with less RAM: each form of an image is a
 * container and content record of its own), and only the container
 * reaches the disk, as
 * DATA/artifacts/tmp-XXXXXX: no plain byte is ever written, not even to a
 * temporary file. The packer needs the image's length first (the header
 * binds it): a sealed upload without Content-Length is refused (411). At
 * the end the packer's SHA-256 of what it was fed must be the one in the
 * URL; the container is fsynced and renamed to DATA/artifacts/<its
 * sha256>, the content key written under the KEK (imgkeys.h: DATA/keys/
 * content/<image sha256>), then both are recorded: the container by its
 * digest (served like any file), the image by its own digest with the
 * container's path (or its plain copy's, when it has one too). A file
 * under DATA/artifacts is always named by the digest of its bytes, so a
 * record whose path names another digest is an image held only sealed,
 * and /artifacts/ does not serve it. A crash before the records leaves a
 * container and a content record that the next upload of the image finds
 * and records; one before the content record, an unused container. An
 * image stored sealed is answered 200 at once: the container and its key
 * are reused by every rollout of it.
 *
 * A download (GET /artifacts/{sha256}) is answered from the file by
 * libmicrohttpd (sendfile where it can): ETag "<sha256>" (strong: the
 * content never changes under a name), Accept-Ranges: bytes; a single
 * Range is answered 206 with Content-Range, one outside the image 416
 * with "bytes * /LENGTH"; an If-Range that is not our ETag, a malformed
 * Range or several ranges get the whole image (200), as RFC 9110 allows.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "fl/seal_openssl.h"
#include "http_priv.h"
#include "imgkeys.h"

#define ETAG_MAX 72

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -1;
	if (fsync(fd) != 0)
		rc = -1;
	close(fd);
	return rc;
}

static int fail(struct fl_http_diag *diag, int err, const char *path,
		const char *why)
{
	if (diag != NULL)
		snprintf(diag->msg, sizeof(diag->msg), "%.200s: %s", path, why);
	return err;
}

int artifacts__init(struct fl_http *h, struct fl_http_diag *diag)
{
	struct dirent *e;
	struct stat st;
	DIR *dir;
	int n;

	n = snprintf(h->art_dir, sizeof(h->art_dir), "%s/artifacts",
		     h->data_dir);
	if (n < 0 || (size_t)n >= sizeof(h->art_dir))
		return fail(diag, FL_EINVAL, h->data_dir, "path too long");
	if (mkdir(h->art_dir, 0755) != 0 && errno != EEXIST)
		return fail(diag, FL_EIO, h->art_dir, strerror(errno));
	if (stat(h->art_dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return fail(diag, FL_EIO, h->art_dir, "not a directory");
	dir = opendir(h->art_dir);
	if (dir == NULL)
		return fail(diag, FL_EIO, h->art_dir, strerror(errno));
	/* Uploads a crash cut short: never recorded, never served. */
	while ((e = readdir(dir)) != NULL) {
		if (strncmp(e->d_name, HTTP_UPLOAD_TMP,
			    strlen(HTTP_UPLOAD_TMP)) == 0)
			(void)unlinkat(dirfd(dir), e->d_name, 0);
	}
	closedir(dir);
	return 0;
}

/* Whether a record's file holds its own bytes: files are named by the
 * digest of their content, and an image held only sealed is recorded
 * with its container's path. */
static bool is_plain_copy(const struct fl_store_artifact *a)
{
	const char *base = strrchr(a->path, '/');

	base = base != NULL ? base + 1 : a->path;
	return strcmp(base, a->sha256) == 0;
}

/* ---- download ----------------------------------------------------------- */

enum range_kind {
	RANGE_WHOLE = 0, /* no usable Range: the whole image */
	RANGE_PART = 1,
	RANGE_UNSATISFIABLE = 2,
};

static bool parse_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*out = v;
	return true;
}

/* One "bytes=" range of an image of len bytes (len > 0). */
static int parse_range(const char *s, uint64_t len, uint64_t *first,
		       uint64_t *last)
{
	uint64_t a = 0, b = 0;
	bool has_a, has_b;

	if (strncasecmp(s, "bytes=", 6) != 0 || strchr(s, ',') != NULL)
		return RANGE_WHOLE;
	s += 6;
	while (*s == ' ')
		s++;
	has_a = parse_u64(&s, &a);
	if (*s++ != '-')
		return RANGE_WHOLE;
	has_b = parse_u64(&s, &b);
	while (*s == ' ')
		s++;
	if (*s != '\0' || (!has_a && !has_b))
		return RANGE_WHOLE;
	if (!has_a) { /* the last b bytes */
		if (b == 0)
			return RANGE_UNSATISFIABLE;
		*first = b >= len ? 0 : len - b;
		*last = len - 1;
		return RANGE_PART;
	}
	if (has_b && b < a)
		return RANGE_WHOLE;
	if (a >= len)
		return RANGE_UNSATISFIABLE;
	*first = a;
	*last = has_b && b < len ? b : len - 1;
	return RANGE_PART;
}

static bool add_headers(struct MHD_Response *resp, const char *etag)
{
	return MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag) ==
		       MHD_YES &&
	       MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES,
				       "bytes") == MHD_YES &&
	       MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				       "application/octet-stream") == MHD_YES &&
	       MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				       "public, max-age=31536000, immutable") ==
		       MHD_YES;
}

enum MHD_Result artifacts__download(struct fl_http_req *req)
{
	struct fl_http *h = req->h;
	struct fl_store_artifact a;
	struct MHD_Response *resp;
	char etag[ETAG_MAX], crange[96];
	const char *range, *if_range;
	uint64_t first = 0, last = 0;
	unsigned status = MHD_HTTP_OK;
	struct stat st;
	int fd, rc, kind = RANGE_WHOLE;

	if (!http__is_sha256(req->arg))
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no artifact '%s'", req->arg);
	rc = fl_store_artifact_get(h->store, req->arg, &a);
	if (rc == FL_ENOENT)
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no artifact %s", req->arg);
	if (rc != 0)
		return http__store_error(req, rc);
	if (!is_plain_copy(&a))
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "%s is stored encrypted only: devices "
				   "download its container",
				   req->arg);
	fd = open(a.path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		http__log(h, FL_LOG_ERROR, "artifacts: %s: %s", a.path,
			  strerror(errno));
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "the image file of %s is missing", req->arg);
	}
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != a.length ||
	    a.length == 0) {
		close(fd);
		http__log(h, FL_LOG_ERROR,
			  "artifacts: %s: not the %" PRIu64 " bytes recorded",
			  a.path, a.length);
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal",
				   "the image file of %s is damaged", req->arg);
	}
	snprintf(etag, sizeof(etag), "\"%s\"", a.sha256);
	range = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_RANGE);
	if_range = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
					       MHD_HTTP_HEADER_IF_RANGE);
	if (range != NULL && (if_range == NULL || strcmp(if_range, etag) == 0))
		kind = parse_range(range, a.length, &first, &last);

	if (kind == RANGE_UNSATISFIABLE) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, NULL,
						       MHD_RESPMEM_PERSISTENT);
		snprintf(crange, sizeof(crange), "bytes */%" PRIu64, a.length);
		if (resp == NULL || !add_headers(resp, etag) ||
		    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE,
					    crange) != MHD_YES) {
			if (resp != NULL)
				MHD_destroy_response(resp);
			return MHD_NO;
		}
		return http__queue(req, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp);
	}
	if (kind == RANGE_PART) {
		resp = MHD_create_response_from_fd_at_offset64(last - first + 1,
							       fd, first);
		status = MHD_HTTP_PARTIAL_CONTENT;
		snprintf(crange, sizeof(crange),
			 "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last,
			 a.length);
	} else {
		resp = MHD_create_response_from_fd_at_offset64(a.length, fd, 0);
	}
	if (resp == NULL) {
		close(fd);
		return MHD_NO;
	}
	/* fd is the response's now. */
	if (!add_headers(resp, etag) ||
	    (kind == RANGE_PART &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE,
				     crange) != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	return http__queue(req, status, resp);
}

/* ---- what is stored ------------------------------------------------------ */

/* Whether the image's plain copy is stored whole. */
static bool plain_whole(const struct fl_store_artifact *a)
{
	struct stat st;

	return is_plain_copy(a) && stat(a->path, &st) == 0 &&
	       S_ISREG(st.st_mode) && (uint64_t)st.st_size == a->length;
}

/* The form an artifact route asks for. */
struct form {
	bool is_sealed;
	uint8_t zip;	/* sealed: enum fl_seal_zip */
	uint32_t chunk; /* sealed: plaintext bytes per chunk */
};

/* Whether the image is stored sealed in the form f: its content record,
 * and its container recorded and whole. *s filled when it is. */
static bool sealed_whole(struct fl_http *h, const char *sha,
			 const struct form *f, struct fl_runner_sealed *s)
{
	struct fl_store_artifact c;
	struct stat st;

	return h->imgkeys != NULL &&
	       fld_imgkeys_content_get(h->imgkeys, sha, f->zip, f->chunk, s,
				       NULL, NULL) == 0 &&
	       fl_store_artifact_get(h->store, s->container, &c) == 0 &&
	       c.length == s->length && stat(c.path, &st) == 0 &&
	       S_ISREG(st.st_mode) && (uint64_t)st.st_size == c.length;
}

static const char *query(struct fl_http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
					   name);
}

/* The form a request asks for: ?encrypt=true|false, by default sealed
 * when fleetd has image keys; sealed, ?compress=true|false (zstd, the
 * default, or stored: for devices without zstd) and ?chunk=N (plaintext
 * bytes per chunk, a multiple of 4096 from 4096 to 1 MiB; FLD_IMG_CHUNK
 * by default). NULL, or what is wrong with the query. */
static const char *want_form(struct fl_http_req *req, struct form *f)
{
	const char *v = query(req, "encrypt"), *z = query(req, "compress");
	const char *k = query(req, "chunk");
	bool has_keys = req->h->imgkeys != NULL;
	uint64_t n = 0;
	size_t i = 0;

	f->is_sealed = has_keys;
	f->zip = FL_SEAL_ZIP_ZSTD;
	f->chunk = FLD_IMG_CHUNK;
	if (v != NULL && strcmp(v, "false") == 0)
		f->is_sealed = false;
	else if (v != NULL && (strcmp(v, "true") != 0 || !has_keys))
		return has_keys ? "?encrypt=: true (the default) or false"
				: "?encrypt=: this fleetd stores images plain "
				  "only (false)";
	if (!f->is_sealed && (z != NULL || k != NULL))
		return "?compress= and ?chunk= are for encrypted images, not "
		       "with ?encrypt=false";
	if (z != NULL && strcmp(z, "false") == 0)
		f->zip = FL_SEAL_ZIP_NONE;
	else if (z != NULL && strcmp(z, "true") != 0)
		return "?compress=: true (the default: zstd) or false (stored, "
		       "for devices without zstd)";
	if (k == NULL)
		return NULL;
	for (; k[i] >= '0' && k[i] <= '9' && i < 8; i++)
		n = n * 10 + (uint64_t)(k[i] - '0');
	if (i == 0 || k[i] != '\0' || k[0] == '0' || n < FL_SEAL_CHUNK_MIN ||
	    n > FL_SEAL_CHUNK_MAX || n % FL_SEAL_CHUNK_MIN != 0)
		return "?chunk=: bytes per chunk, a multiple of 4096 from 4096 "
		       "to 1048576 (16384 by default)";
	f->chunk = (uint32_t)n;
	return NULL;
}

static enum MHD_Result bad_form(struct fl_http_req *req, const char *why)
{
	return http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", why);
}

enum MHD_Result artifacts__info(struct fl_http_req *req)
{
	struct fl_store_artifact a;
	struct fl_runner_sealed s;
	bool is_plain, is_sealed;
	struct form f;
	const char *bad = want_form(req, &f);
	int rc;
	bool want = f.is_sealed;
	cJSON *o;

	if (!http__is_sha256(req->arg))
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no artifact '%s'", req->arg);
	if (bad != NULL)
		return bad_form(req, bad);
	rc = fl_store_artifact_get(req->h->store, req->arg, &a);
	if (rc == FL_ENOENT)
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no artifact %s", req->arg);
	if (rc != 0)
		return http__store_error(req, rc);
	is_plain = plain_whole(&a);
	is_sealed = sealed_whole(req->h, req->arg, &f, &s);
	if (want && !is_sealed)
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "%s is not stored encrypted in this form "
				   "(%s, chunks of %u bytes)",
				   req->arg,
				   f.zip == FL_SEAL_ZIP_ZSTD ? "zstd"
							     : "uncompressed",
				   (unsigned)f.chunk);
	if (!want && !is_plain)
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "%s has no plain copy (stored encrypted "
				   "only)",
				   req->arg);
	o = cJSON_CreateObject();
	if (o == NULL || !cJSON_AddStringToObject(o, "sha256", a.sha256) ||
	    !cJSON_AddNumberToObject(o, "length", (double)a.length) ||
	    !cJSON_AddNumberToObject(o, "created", (double)a.created_at_s) ||
	    !cJSON_AddBoolToObject(o, "signed", a.manifest[0] != '\0') ||
	    !cJSON_AddBoolToObject(o, "plain", is_plain) ||
	    !cJSON_AddBoolToObject(o, "encrypted", is_sealed) ||
	    (is_sealed &&
	     (!cJSON_AddStringToObject(o, "container", s.container) ||
	      !cJSON_AddNumberToObject(o, "container_length",
				       (double)s.length) ||
	      !cJSON_AddBoolToObject(o, "compressed",
				     s.zip == FL_SEAL_ZIP_ZSTD) ||
	      !cJSON_AddNumberToObject(o, "chunk", (double)s.chunk)))) {
		cJSON_Delete(o);
		return MHD_NO;
	}
	return http__json(req, MHD_HTTP_OK, o);
}

/* ---- upload ------------------------------------------------------------- */

void artifacts__put_cleanup(struct fl_http_req *req)
{
	if (req->up_fd >= 0) {
		close(req->up_fd);
		req->up_fd = -1;
	}
	if (req->up_tmp[0] != '\0') {
		(void)unlink(req->up_tmp);
		req->up_tmp[0] = '\0';
	}
	EVP_MD_CTX_free(req->up_md);
	req->up_md = NULL;
	fl_seal_packer_free(req->up_packer);
	req->up_packer = NULL;
	OPENSSL_cleanse(req->up_key, sizeof(req->up_key));
}

static enum MHD_Result answer_stored(struct fl_http_req *req, unsigned status,
				     uint64_t length,
				     const struct fl_runner_sealed *s)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !cJSON_AddStringToObject(o, "sha256", req->arg) ||
	    !cJSON_AddNumberToObject(o, "length", (double)length) ||
	    !cJSON_AddBoolToObject(o, "encrypted", s != NULL) ||
	    (s != NULL &&
	     (!cJSON_AddStringToObject(o, "container", s->container) ||
	      !cJSON_AddNumberToObject(o, "container_length",
				       (double)s->length) ||
	      !cJSON_AddBoolToObject(o, "compressed",
				     s->zip == FL_SEAL_ZIP_ZSTD) ||
	      !cJSON_AddNumberToObject(o, "chunk", (double)s->chunk)))) {
		cJSON_Delete(o);
		return MHD_NO;
	}
	return http__json(req, status, o);
}

/* Whether the store has the image and its file is whole. */
static int stored(struct fl_http *h, const char *sha,
		  struct fl_store_artifact *a, bool *is_whole)
{
	int rc = fl_store_artifact_get(h->store, sha, a);

	*is_whole = false;
	if (rc != 0)
		return rc;
	*is_whole = plain_whole(a);
	return 0;
}

/* The packer's output: the container, to the upload's file. */
static int write_up(void *ctx, const void *data, size_t len)
{
	struct fl_http_req *req = ctx;
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(req->up_fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			req->up_errno = w < 0 ? errno : EIO;
			return FL_EIO;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* A sealed upload's start: the packer over a fresh content key, in the
 * form f. */
static enum MHD_Result seal_begin(struct fl_http_req *req, const char *cl,
				  const struct form *f)
{
	struct fl_seal_diag sd = {""};
	uint64_t len = 0;
	int rc;

	if (cl == NULL)
		return http__error(req, MHD_HTTP_LENGTH_REQUIRED,
				   "length_required",
				   "an image to encrypt needs Content-Length "
				   "(its length is bound into the container's "
				   "header)");
	for (const char *p = cl; *p >= '0' && *p <= '9'; p++)
		len = len * 10 + (uint64_t)(*p - '0');
	if (len == 0)
		return http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
				   "empty image");
	if (fl_seal_random(req->up_key, sizeof(req->up_key)) != 0)
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "no random bytes");
	rc = fl_seal_packer_new((struct fl_seal_packer **)&req->up_packer,
				req->up_key, f->zip, FLD_IMG_LEVEL, f->chunk,
				(uint32_t)len, write_up, req, &sd);
	if (rc != 0) {
		http__log(req->h, FL_LOG_ERROR, "artifacts: %s", sd.msg);
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "cannot encrypt: %s", sd.msg);
	}
	req->is_sealing = true;
	return MHD_YES;
}

enum MHD_Result artifacts__put_begin(struct fl_http_req *req)
{
	struct fl_http *h = req->h;
	struct fl_store_artifact a;
	struct fl_runner_sealed s;
	uint64_t len = 0;
	const char *cl;
	struct form f;
	const char *bad = want_form(req, &f);
	bool is_whole, want = f.is_sealed;
	int rc, n;

	if (!http__is_sha256(req->arg))
		return http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
				   "'%s' is not a SHA-256 digest (64 "
				   "lower-case hex digits)",
				   req->arg);
	if (bad != NULL)
		return bad_form(req, bad);
	cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
					 MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		const char *p = cl;

		for (; *p >= '0' && *p <= '9' && len <= h->artifact_max_bytes;
		     p++)
			len = len * 10 + (uint64_t)(*p - '0');
		if (len > h->artifact_max_bytes)
			return http__error(
				req, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
				"image over the limit of %" PRIu64 " bytes",
				h->artifact_max_bytes);
	}
	rc = stored(h, req->arg, &a, &is_whole);
	if (rc != 0 && rc != FL_ENOENT)
		return http__store_error(req, rc);
	if (want && rc == 0 && sealed_whole(h, req->arg, &f, &s))
		return answer_stored(req, MHD_HTTP_OK, a.length, &s);
	if (!want && rc == 0 && is_whole)
		return answer_stored(req, MHD_HTTP_OK, a.length, NULL);

	n = snprintf(req->up_tmp, sizeof(req->up_tmp),
		     "%s/" HTTP_UPLOAD_TMP "XXXXXX", h->art_dir);
	if (n < 0 || (size_t)n >= sizeof(req->up_tmp)) {
		req->up_tmp[0] = '\0';
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "data path too long");
	}
	req->up_fd = mkostemp(req->up_tmp, O_CLOEXEC);
	if (req->up_fd < 0) {
		http__log(h, FL_LOG_ERROR, "artifacts: %s: %s", req->up_tmp,
			  strerror(errno));
		req->up_tmp[0] = '\0';
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "cannot create a file: %s",
				   strerror(errno));
	}
	if (want)
		return seal_begin(req, cl, &f);
	req->up_md = EVP_MD_CTX_new();
	if (req->up_md == NULL ||
	    EVP_DigestInit_ex(req->up_md, EVP_sha256(), NULL) != 1) {
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "cannot hash");
	}
	return MHD_YES;
}

int artifacts__put_chunk(struct fl_http_req *req, const char *data, size_t len)
{
	struct fl_http *h = req->h;
	size_t done = 0;

	if (req->up_errno != 0 || req->is_too_large)
		return 0;
	if (len > h->artifact_max_bytes - req->up_bytes) {
		/* A body without Content-Length passed the limit: no more
		 * disk for it. libmicrohttpd cannot answer in the middle of
		 * a body: the rest is dropped, and 413 answered at its end. */
		req->is_too_large = true;
		artifacts__put_cleanup(req);
		return 0;
	}
	if (req->is_sealing) {
		int rc = fl_seal_packer_feed(req->up_packer, data, len);

		if (rc != 0 && req->up_errno == 0)
			req->up_errno = rc == FL_ETOOBIG ? EFBIG : EIO;
		req->up_bytes += len;
		return 0;
	}
	if (EVP_DigestUpdate(req->up_md, data, len) != 1) {
		req->up_errno = EIO;
		return 0;
	}
	while (done < len) {
		ssize_t w = write(req->up_fd, data + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			req->up_errno = w < 0 ? errno : EIO;
			return 0;
		}
		done += (size_t)w;
	}
	req->up_bytes += len;
	return 0;
}

/* Makes the upload's file durable as path: synced, renamed, the folder
 * synced. 0, or an errno. */
static int settle(struct fl_http_req *req, const char *path)
{
	int rc;

	if (fchmod(req->up_fd, 0644) != 0 || fsync(req->up_fd) != 0 ||
	    close(req->up_fd) != 0) {
		rc = errno;
		req->up_fd = -1;
		return rc != 0 ? rc : EIO;
	}
	req->up_fd = -1;
	if (rename(req->up_tmp, path) != 0 || fsync_dir(req->h->art_dir) != 0)
		return errno != 0 ? errno : EIO;
	req->up_tmp[0] = '\0'; /* it is the file now */
	return 0;
}

/* A sealed upload's end: the digest checked, the container kept, its key
 * written under the KEK, both recorded. */
static enum MHD_Result seal_end(struct fl_http_req *req)
{
	struct fl_http *h = req->h;
	struct fld_imgkeys_diag kd = {""};
	struct fl_store_artifact a, c, old;
	struct fl_runner_sealed s;
	struct fl_seal_info info;
	char hex[65];
	bool has_plain = false;
	int rc;

	rc = fl_seal_packer_finish(req->up_packer, &info);
	if (rc != 0) {
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
				   "the body ended before its Content-Length");
	}
	(void)fl_hex_encode(hex, sizeof(hex), info.plain_sha256, 32);
	if (strcmp(hex, req->arg) != 0) {
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_BAD_REQUEST, "digest_mismatch",
				   "the body's SHA-256 is %s, not %s", hex,
				   req->arg);
	}
	memset(&s, 0, sizeof(s));
	(void)fl_hex_encode(s.container, sizeof(s.container), info.enc_sha256,
			    32);
	s.length = info.enc_len;
	s.zip = info.zip;
	s.chunk = info.chunk_bytes;
	memset(&c, 0, sizeof(c));
	(void)fl_strlcpy(c.sha256, s.container, sizeof(c.sha256));
	if (snprintf(c.path, sizeof(c.path), "%s/%s", h->art_dir,
		     s.container) >= (int)sizeof(c.path)) {
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "data path too long");
	}
	c.length = info.enc_len;
	c.created_at_s = http__now(h);
	rc = settle(req, c.path);
	if (rc != 0) {
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "cannot store the image: %s",
				   strerror(rc));
	}
	rc = fld_imgkeys_content_put(h->imgkeys, req->arg, &s, req->up_key,
				     &kd);
	if (rc != 0) {
		http__log(h, FL_LOG_ERROR, "artifacts: %s", kd.msg);
		(void)unlink(c.path);
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal",
				   "cannot keep the content key: %s", kd.msg);
	}
	artifacts__put_cleanup(req); /* the key is wiped */

	/* The image's record: its plain copy's path when it has one. */
	memset(&a, 0, sizeof(a));
	(void)fl_strlcpy(a.sha256, req->arg, sizeof(a.sha256));
	memcpy(a.path, c.path, sizeof(a.path));
	a.length = info.plain_len;
	a.created_at_s = c.created_at_s;
	rc = fl_store_artifact_get(h->store, req->arg, &old);
	if (rc == 0) {
		has_plain = plain_whole(&old);
		if (has_plain)
			memcpy(a.path, old.path, sizeof(a.path));
		memcpy(a.manifest, old.manifest, sizeof(a.manifest));
		a.created_at_s = old.created_at_s;
	} else if (rc != FL_ENOENT) {
		return http__store_error(req, rc);
	}
	rc = fl_store_artifact_put(h->store, &c);
	if (rc == 0)
		rc = fl_store_artifact_put(h->store, &a);
	if (rc != 0)
		return http__store_error(req, rc);
	h->n_uploads++;
	return answer_stored(req, MHD_HTTP_CREATED, a.length, &s);
}

enum MHD_Result artifacts__put_end(struct fl_http_req *req)
{
	struct fl_http *h = req->h;
	struct fl_store_artifact a, old;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	char hex[2 * 32 + 1];
	bool is_whole, was_stored;
	int rc;

	if (req->up_errno != 0) {
		int e = req->up_errno;

		artifacts__put_cleanup(req);
		http__log(h, FL_LOG_ERROR,
			  "artifacts: cannot write an image: %s", strerror(e));
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "cannot write the image: %s",
				   strerror(e));
	}
	if (req->up_bytes == 0) {
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
				   "empty image");
	}
	if (req->is_sealing)
		return seal_end(req);
	if (EVP_DigestFinal_ex(req->up_md, md, &md_len) != 1 || md_len != 32) {
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "cannot hash");
	}
	(void)fl_hex_encode(hex, sizeof(hex), md, md_len);
	if (strcmp(hex, req->arg) != 0) {
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_BAD_REQUEST, "digest_mismatch",
				   "the body's SHA-256 is %s, not %s", hex,
				   req->arg);
	}

	memset(&a, 0, sizeof(a));
	(void)fl_strlcpy(a.sha256, hex, sizeof(a.sha256));
	if (snprintf(a.path, sizeof(a.path), "%s/%s", h->art_dir, hex) >=
	    (int)sizeof(a.path)) {
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "data path too long");
	}
	a.length = req->up_bytes;
	a.created_at_s = http__now(h);
	rc = settle(req, a.path);
	if (rc != 0) {
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "cannot store the image: %s",
				   strerror(rc));
	}
	EVP_MD_CTX_free(req->up_md);
	req->up_md = NULL;

	/* Stored meanwhile (or its file had gone): keep its record, and
	 * its signed manifest, as they are. */
	rc = stored(h, hex, &old, &is_whole);
	if (rc == 0 && strcmp(old.path, a.path) == 0)
		return answer_stored(req, MHD_HTTP_OK, old.length, NULL);
	if (rc != 0 && rc != FL_ENOENT)
		return http__store_error(req, rc);
	was_stored = rc == 0;
	if (was_stored)
		memcpy(a.manifest, old.manifest, sizeof(a.manifest));
	rc = fl_store_artifact_put(h->store, &a);
	if (rc != 0)
		return http__store_error(req, rc);
	h->n_uploads++;
	return answer_stored(req, was_stored ? MHD_HTTP_OK : MHD_HTTP_CREATED,
			     a.length, NULL);
}
