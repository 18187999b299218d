/*
 * http_range_server.c -- a tiny HTTP server for tests (libmicrohttpd):
 * serves one file at every path, with byte ranges, and misbehaves on
 * purpose.
 *
 *   http_range_server --file PATH [--port N] [--log FILE]
 *                     [--cut-after BYTES --cut-count K] [--no-range]
 *                     [--throttle BYTES_PER_S] [--chunked]
 *
 * Range "bytes=N-" or "bytes=N-M" is answered 206 with Content-Range, a
 * start past the end 416 with Content-Range "bytes *" "/SIZE"; If-Range is
 * honoured against the strong ETag, the file's SHA-256 in hex between
 * quotes (a mismatch gets the whole file, 200). --cut-after closes the
 * connection after that many body bytes, for the first K responses with a
 * body. --no-range ignores Range and If-Range. --throttle sends at most
 * that many bytes per second per response. --chunked sends a whole-file
 * (200) response without Content-Length, in chunked encoding, so that a
 * client learns the body's length only at its end.
 *
 * It listens on 127.0.0.1 (port 0: any free one) and prints "port N" on
 * stdout once it listens; it stops at SIGTERM or SIGINT. --log appends
 * one line per request, "req ID offset O status S", and one when its
 * response ends, "done ID sent B" (the body bytes handed to the socket),
 * so that a test can add up what went over the wire.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>

#define CHUNK_MAX (16 * 1024)

static uint8_t *content;
static uint64_t content_len;
static char etag[2 * 32 + 3];
static uint64_t cut_after, cut_count, cuts_done, throttle_bps;
static int is_no_range, is_chunked;
static FILE *log_file;
static unsigned next_id;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

struct req {
	unsigned id;
	uint64_t start, len; /* body: content[start, start + len) */
	uint64_t sent;
	uint64_t cut_at; /* UINT64_MAX: no cut */
	struct timespec t0;
};

static void log_line(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void log_line(const char *fmt, ...)
{
	va_list ap;

	if (log_file == NULL)
		return;
	pthread_mutex_lock(&mu);
	va_start(ap, fmt);
	vfprintf(log_file, fmt, ap);
	va_end(ap);
	fputc('\n', log_file);
	fflush(log_file);
	pthread_mutex_unlock(&mu);
}

static double elapsed_s(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	       (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct req *r = cls;
	uint64_t n = r->len - pos;

	if (pos >= r->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n > max)
		n = max;
	if (n > CHUNK_MAX)
		n = CHUNK_MAX;
	if (r->cut_at != UINT64_MAX) {
		if (r->sent >= r->cut_at)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (n > r->cut_at - r->sent)
			n = r->cut_at - r->sent;
	}
	if (throttle_bps != 0) {
		/* Sleep until this chunk is within the rate (one thread per
		 * connection: sleeping here holds nobody else up). */
		double due, now = elapsed_s(&r->t0);

		if (n > throttle_bps / 10 + 1)
			n = throttle_bps / 10 + 1;
		due = (double)(r->sent + n) / (double)throttle_bps;
		if (due > now)
			usleep((useconds_t)((due - now) * 1e6));
	}
	memcpy(buf, content + r->start + pos, (size_t)n);
	r->sent += n;
	return (ssize_t)n;
}

static void req_free(void *cls)
{
	struct req *r = cls;

	log_line("done %u sent %" PRIu64, r->id, r->sent);
	free(r);
}

/* "bytes=N-" or "bytes=N-M"; false if it is not one range. */
static int parse_range(const char *h, uint64_t *first, uint64_t *last)
{
	char *end;

	if (strncmp(h, "bytes=", 6) != 0)
		return 0;
	h += 6;
	errno = 0;
	*first = strtoull(h, &end, 10);
	if (errno != 0 || end == h || *end != '-')
		return 0;
	h = end + 1;
	if (*h == '\0') {
		*last = UINT64_MAX;
		return 1;
	}
	*last = strtoull(h, &end, 10);
	return errno == 0 && end != h && *end == '\0' && *last >= *first;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_len, void **state)
{
	static int first_call;
	const char *range, *if_range;
	uint64_t first = 0, last = 0;
	struct MHD_Response *resp;
	struct req *r;
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result rc;
	char hdr[96];

	(void)cls;
	(void)version;
	(void)upload;
	if (*state == NULL) {
		*state = &first_call; /* headers only so far */
		return MHD_YES;
	}
	*upload_len = 0;
	if (strcmp(method, "GET") != 0)
		return MHD_NO;
	range = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_RANGE);
	if_range = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					       MHD_HTTP_HEADER_IF_RANGE);
	if (is_no_range || (if_range != NULL && strcmp(if_range, etag) != 0))
		range = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return MHD_NO;
	pthread_mutex_lock(&mu);
	r->id = ++next_id;
	pthread_mutex_unlock(&mu);
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	r->cut_at = UINT64_MAX;
	r->len = content_len;
	if (range != NULL && parse_range(range, &first, &last)) {
		if (first >= content_len) {
			log_line("req %u offset %" PRIu64 " status 416 %s",
				 r->id, first, url);
			free(r);
			resp = MHD_create_response_from_buffer(
				0, NULL, MHD_RESPMEM_PERSISTENT);
			snprintf(hdr, sizeof(hdr), "bytes */%" PRIu64,
				 content_len);
			MHD_add_response_header(resp, "Content-Range", hdr);
			MHD_add_response_header(resp, "ETag", etag);
			rc = MHD_queue_response(
				c, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp);
			MHD_destroy_response(resp);
			return rc;
		}
		if (last >= content_len)
			last = content_len - 1;
		r->start = first;
		r->len = last - first + 1;
		status = MHD_HTTP_PARTIAL_CONTENT;
	}
	pthread_mutex_lock(&mu);
	if (cuts_done < cut_count && r->len > 0) {
		cuts_done++;
		r->cut_at = cut_after;
	}
	pthread_mutex_unlock(&mu);
	log_line("req %u offset %" PRIu64 " status %u%s %s", r->id, r->start,
		 status, r->cut_at != UINT64_MAX ? " cut" : "", url);
	resp = MHD_create_response_from_callback(
		is_chunked && status == MHD_HTTP_OK ? MHD_SIZE_UNKNOWN : r->len,
		CHUNK_MAX, reader, r, req_free);
	if (resp == NULL) {
		free(r);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "ETag", etag);
	MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	if (status == MHD_HTTP_PARTIAL_CONTENT) {
		snprintf(hdr, sizeof(hdr),
			 "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, r->start,
			 r->start + r->len - 1, content_len);
		MHD_add_response_header(resp, "Content-Range", hdr);
	}
	rc = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static int load(const char *path)
{
	unsigned char md[32];
	unsigned int md_len = 0;
	struct stat sb;
	FILE *f = fopen(path, "rb");

	if (f == NULL || fstat(fileno(f), &sb) != 0) {
		fprintf(stderr, "http_range_server: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	content_len = (uint64_t)sb.st_size;
	content = malloc(content_len ? content_len : 1);
	if (content == NULL ||
	    fread(content, 1, content_len, f) != content_len) {
		fclose(f);
		return -1;
	}
	fclose(f);
	if (!EVP_Digest(content, content_len, md, &md_len, EVP_sha256(), NULL))
		return -1;
	etag[0] = '"';
	for (unsigned i = 0; i < 32; i++)
		snprintf(etag + 1 + 2 * i, 3, "%02x", md[i]);
	etag[65] = '"';
	etag[66] = '\0';
	return 0;
}

static uint64_t number(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*s == '\0' || *end != '\0') {
		fprintf(stderr, "http_range_server: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *file = NULL, *log_path = NULL;
	struct sockaddr_in addr;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	uint64_t port = 0;
	sigset_t set;
	int sig;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--no-range") == 0) {
			is_no_range = 1;
			continue;
		}
		if (strcmp(a, "--chunked") == 0) {
			is_chunked = 1;
			continue;
		}
		if (v == NULL) {
			fprintf(stderr, "http_range_server: %s needs a value\n",
				a);
			return 2;
		}
		i++;
		if (strcmp(a, "--file") == 0)
			file = v;
		else if (strcmp(a, "--port") == 0)
			port = number(v);
		else if (strcmp(a, "--log") == 0)
			log_path = v;
		else if (strcmp(a, "--cut-after") == 0)
			cut_after = number(v);
		else if (strcmp(a, "--cut-count") == 0)
			cut_count = number(v);
		else if (strcmp(a, "--throttle") == 0)
			throttle_bps = number(v);
		else {
			fprintf(stderr, "http_range_server: unknown %s\n", a);
			return 2;
		}
	}
	if (file == NULL || port > 65535 || load(file) != 0)
		return 2;
	if (log_path != NULL && (log_file = fopen(log_path, "a")) == NULL)
		return 2;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* threads inherit it */
	signal(SIGPIPE, SIG_IGN);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
				     MHD_USE_THREAD_PER_CONNECTION |
				     MHD_USE_ERROR_LOG,
			     0, NULL, NULL, answer, NULL, MHD_OPTION_SOCK_ADDR,
			     (struct sockaddr *)&addr, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "http_range_server: cannot listen\n");
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("port %u\n", info != NULL ? (unsigned)info->port : 0u);
	fflush(stdout);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	if (log_file != NULL)
		fclose(log_file);
	free(content);
	return 0;
}
