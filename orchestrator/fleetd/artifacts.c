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

#include <openssl/evp.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "http_priv.h"

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

enum MHD_Result artifacts__info(struct fl_http_req *req)
{
	struct fl_store_artifact a;
	cJSON *o;
	int rc;

	if (!http__is_sha256(req->arg))
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no artifact '%s'", req->arg);
	rc = fl_store_artifact_get(req->h->store, req->arg, &a);
	if (rc == FL_ENOENT)
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no artifact %s", req->arg);
	if (rc != 0)
		return http__store_error(req, rc);
	o = cJSON_CreateObject();
	if (o == NULL || !cJSON_AddStringToObject(o, "sha256", a.sha256) ||
	    !cJSON_AddNumberToObject(o, "length", (double)a.length) ||
	    !cJSON_AddNumberToObject(o, "created", (double)a.created_at_s) ||
	    !cJSON_AddBoolToObject(o, "signed", a.manifest[0] != '\0')) {
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
}

static enum MHD_Result answer_stored(struct fl_http_req *req, unsigned status,
				     uint64_t length)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !cJSON_AddStringToObject(o, "sha256", req->arg) ||
	    !cJSON_AddNumberToObject(o, "length", (double)length)) {
		cJSON_Delete(o);
		return MHD_NO;
	}
	return http__json(req, status, o);
}

/* Whether the store has the image and its file is whole. */
static int stored(struct fl_http *h, const char *sha,
		  struct fl_store_artifact *a, bool *is_whole)
{
	struct stat st;
	int rc = fl_store_artifact_get(h->store, sha, a);

	*is_whole = false;
	if (rc != 0)
		return rc;
	*is_whole = stat(a->path, &st) == 0 && S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size == a->length;
	return 0;
}

enum MHD_Result artifacts__put_begin(struct fl_http_req *req)
{
	struct fl_http *h = req->h;
	struct fl_store_artifact a;
	uint64_t len = 0;
	const char *cl;
	bool is_whole;
	int rc, n;

	if (!http__is_sha256(req->arg))
		return http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
				   "'%s' is not a SHA-256 digest (64 "
				   "lower-case hex digits)",
				   req->arg);
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
	if (rc == 0 && is_whole)
		return answer_stored(req, MHD_HTTP_OK, a.length);

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
	if (fchmod(req->up_fd, 0644) != 0 || fsync(req->up_fd) != 0 ||
	    close(req->up_fd) != 0) {
		req->up_fd = -1;
		rc = errno;
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "cannot write the image: %s",
				   strerror(rc));
	}
	req->up_fd = -1;
	if (rename(req->up_tmp, a.path) != 0 || fsync_dir(h->art_dir) != 0) {
		rc = errno;
		artifacts__put_cleanup(req);
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "cannot store the image: %s",
				   strerror(rc));
	}
	req->up_tmp[0] = '\0'; /* it is the image now */
	EVP_MD_CTX_free(req->up_md);
	req->up_md = NULL;

	/* Stored meanwhile (or its file had gone): keep its record, and
	 * its signed manifest, as they are. */
	rc = stored(h, hex, &old, &is_whole);
	if (rc == 0 && strcmp(old.path, a.path) == 0)
		return answer_stored(req, MHD_HTTP_OK, old.length);
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
			     a.length);
}
