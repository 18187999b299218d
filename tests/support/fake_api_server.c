/*
 * fake_api_server.c -- a stand-in for fleetd's REST API in tests
 * (libmicrohttpd): answers canned JSON per route and records every
 * request, so that a test can run the real fleetctl against it and check
 * both what fleetctl printed and what it sent.
 *
 *   fake_api_server --routes FILE [--log FILE] [--port N] [--token T]
 *
 * The routes file has one route a line, `METHOD PATH STATUS BODY`, and
 * `#` comments. PATH is matched against the request's path; a PATH with a
 * `?` is matched against the path and query as sent. BODY is `-` (none),
 * inline JSON (it starts with `{` or `[` and runs to the end of the line),
 * or a file (relative to the routes file's folder). A route given several
 * times answers its requests in turn, the last one repeating: that is how
 * a test plays a rollout's states one poll after the other. An unknown
 * route gets a 404 in the API's error shape.
 *
 * --log appends one line per request: `METHOD URI` and, for a POST, its
 * body as compact JSON (or `bytes=N` if it is not JSON), for a PUT
 * `bytes=N sha256=HEX`. Bodies over 8 MiB get a 413.
 *
 * --token T: a request without `Authorization: Bearer T` is answered 401
 * unauthorized, as fleetd answers it, and is not logged.
 *
 * It listens on 127.0.0.1 (port 0: any free one), prints "port N" on
 * stdout once it listens, and stops at SIGTERM or SIGINT. One thread
 * answers one request at a time, so routes need no locking. It also holds
 * a second loopback port bound but not listening, printed as "closed N":
 * a connection there is refused, and no other process can take that port
 * while the test uses it to check what a client does when nothing runs.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#define MAX_ROUTES     256
#define MAX_BODY       (8u << 20)
#define ROUTE_LINE_MAX 4096

struct route {
	char method[8];
	char path[1024];
	unsigned status;
	char *body; /* NULL: none */
	size_t body_len;
	int is_used;
};

static struct route routes[MAX_ROUTES];
static unsigned nroutes;
static FILE *log_file;
static const char *want_token; /* --token: NULL none */

/* One request: its URI as sent, and its body. */
struct req {
	char *uri;
	char *body;
	size_t len, cap;
	uint64_t nbytes;
	EVP_MD_CTX *md;
	int is_too_big;
	int has_headers; /* the first call, with the headers only, is over */
};

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf != NULL) {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static int load_routes(const char *path)
{
	char line[ROUTE_LINE_MAX], dir[1024] = ".";
	const char *slash = strrchr(path, '/');
	FILE *f = fopen(path, "r");
	unsigned lineno = 0;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	if (slash != NULL)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	while (fgets(line, sizeof(line), f) != NULL) {
		struct route *r = &routes[nroutes];
		char body[ROUTE_LINE_MAX];
		int off = 0;
		size_t n = strlen(line);

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (nroutes == MAX_ROUTES ||
		    sscanf(line, "%7s %1023s %u %n", r->method, r->path,
			   &r->status, &off) != 3 ||
		    off == 0 || line[off] == '\0') {
			fprintf(stderr, "%s:%u: want METHOD PATH STATUS BODY\n",
				path, lineno);
			fclose(f);
			return -1;
		}
		snprintf(body, sizeof(body), "%s", line + off);
		if (strcmp(body, "-") == 0) {
			r->body = NULL;
		} else if (body[0] == '{' || body[0] == '[') {
			r->body = strdup(body);
			r->body_len = strlen(body);
		} else {
			char file[ROUTE_LINE_MAX + 1024 + 2];

			if (body[0] == '/')
				snprintf(file, sizeof(file), "%s", body);
			else
				snprintf(file, sizeof(file), "%s/%s", dir,
					 body);
			r->body = read_file(file, &r->body_len);
			if (r->body == NULL) {
				fprintf(stderr, "%s:%u: cannot read %s\n", path,
					lineno, file);
				fclose(f);
				return -1;
			}
		}
		nroutes++;
	}
	fclose(f);
	return 0;
}

/* The route for this request: the first unused one that matches, else
 * the last that matches. */
static struct route *find_route(const char *method, const char *uri)
{
	struct route *last = NULL;
	size_t plen = strcspn(uri, "?");

	for (unsigned i = 0; i < nroutes; i++) {
		struct route *r = &routes[i];
		int is_match;

		if (strcmp(r->method, method) != 0)
			continue;
		if (strchr(r->path, '?') != NULL)
			is_match = strcmp(r->path, uri) == 0;
		else
			is_match = strlen(r->path) == plen &&
				   strncmp(r->path, uri, plen) == 0;
		if (!is_match)
			continue;
		if (!r->is_used) {
			r->is_used = 1;
			return r;
		}
		last = r;
	}
	return last;
}

static void log_request(const char *method, const struct req *q)
{
	if (log_file == NULL)
		return;
	fprintf(log_file, "%s %s", method, q->uri);
	if (strcmp(method, "PUT") == 0) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned md_len = 0;

		fprintf(log_file,
			" bytes=%llu sha256=", (unsigned long long)q->nbytes);
		if (q->md != NULL &&
		    EVP_DigestFinal_ex(q->md, md, &md_len) == 1)
			for (unsigned i = 0; i < md_len; i++)
				fprintf(log_file, "%02x", md[i]);
	} else if (strcmp(method, "POST") == 0) {
		cJSON *j =
			q->len ? cJSON_ParseWithLength(q->body, q->len) : NULL;
		char *s = j != NULL ? cJSON_PrintUnformatted(j) : NULL;

		if (s != NULL)
			fprintf(log_file, " %s", s);
		else
			fprintf(log_file, " bytes=%zu", q->len);
		cJSON_free(s);
		cJSON_Delete(j);
	}
	fputc('\n', log_file);
	fflush(log_file);
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status,
			       const char *body, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, (void *)(body != NULL ? body : ""), MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (resp == NULL)
		return MHD_NO;
	if (len > 0)
		MHD_add_response_header(resp, "Content-Type",
					"application/json");
	rc = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct req *q = *con_cls;
	struct route *r;
	char msg[1200];

	(void)cls;
	(void)url;
	(void)version;
	if (q == NULL)
		return MHD_NO;
	if (!q->has_headers) {
		/* The body, if any, comes in the next calls. */
		q->has_headers = 1;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;

		q->nbytes += n;
		if (strcmp(method, "PUT") == 0) {
			if (q->md == NULL) {
				q->md = EVP_MD_CTX_new();
				if (q->md == NULL ||
				    EVP_DigestInit_ex(q->md, EVP_sha256(),
						      NULL) != 1)
					return MHD_NO;
			}
			EVP_DigestUpdate(q->md, upload, n);
		} else if (q->len + n > MAX_BODY) {
			q->is_too_big = 1;
		} else {
			if (q->len + n + 1 > q->cap) {
				size_t cap = (q->len + n + 1) * 2;
				char *b = realloc(q->body, cap);

				if (b == NULL)
					return MHD_NO;
				q->body = b;
				q->cap = cap;
			}
			memcpy(q->body + q->len, upload, n);
			q->len += n;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "PUT") == 0 && q->md == NULL) {
		q->md = EVP_MD_CTX_new();
		if (q->md == NULL ||
		    EVP_DigestInit_ex(q->md, EVP_sha256(), NULL) != 1)
			return MHD_NO;
	}
	if (want_token != NULL) {
		const char *h = MHD_lookup_connection_value(
			c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
		int n;

		if (h == NULL || strncmp(h, "Bearer ", 7) != 0 ||
		    strcmp(h + 7, want_token) != 0) {
			n = snprintf(msg, sizeof(msg),
				     "{\"error\": {\"code\": "
				     "\"unauthorized\", \"message\": \"%s\"}}",
				     h == NULL ? "no token: send "
						 "'Authorization: Bearer TOKEN'"
					       : "unknown token");
			return respond(c, 401, msg, (size_t)n);
		}
	}
	log_request(method, q);
	if (q->is_too_big) {
		static const char big[] = "{\"error\": {\"code\": "
					  "\"too_large\", \"message\": "
					  "\"body over its limit\"}}";

		return respond(c, 413, big, sizeof(big) - 1);
	}
	r = find_route(method, q->uri);
	if (r == NULL) {
		int n = snprintf(msg, sizeof(msg),
				 "{\"error\": {\"code\": \"not_found\", "
				 "\"message\": \"no such path: %.1000s\"}}",
				 q->uri);

		return respond(c, 404, msg, (size_t)n);
	}
	return respond(c, r->status, r->body, r->body_len);
}

/* The URI as sent, before libmicrohttpd splits and decodes it: it becomes
 * the request's context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *q = calloc(1, sizeof(*q));

	(void)cls;
	(void)c;
	if (q != NULL && (q->uri = strdup(uri)) == NULL) {
		free(q);
		q = NULL;
	}
	return q;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode why)
{
	struct req *q = *con_cls;

	(void)cls;
	(void)c;
	(void)why;
	if (q == NULL)
		return;
	EVP_MD_CTX_free(q->md);
	free(q->body);
	free(q->uri);
	free(q);
	*con_cls = NULL;
}

int main(int argc, char **argv)
{
	const char *routes_path = NULL, *log_path = NULL;
	const union MHD_DaemonInfo *info;
	struct sockaddr_in addr;
	struct MHD_Daemon *d;
	unsigned long port = 0;
	socklen_t addr_len = sizeof(struct sockaddr_in);
	sigset_t set;
	int sig, closed_fd;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--routes") == 0)
			routes_path = argv[i + 1];
		else if (strcmp(argv[i], "--log") == 0)
			log_path = argv[i + 1];
		else if (strcmp(argv[i], "--port") == 0)
			port = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--token") == 0)
			want_token = argv[i + 1];
		else
			routes_path = NULL, i = argc;
	}
	if (routes_path == NULL || port > 65535 || argc % 2 == 0) {
		fprintf(stderr, "usage: fake_api_server --routes FILE "
				"[--log FILE] [--port N] [--token T]\n");
		return 2;
	}
	if (load_routes(routes_path) != 0)
		return 2;
	if (log_path != NULL && (log_file = fopen(log_path, "a")) == NULL) {
		perror(log_path);
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* threads inherit it */
	signal(SIGPIPE, SIG_IGN);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
		NULL, answer, NULL, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&addr, MHD_OPTION_URI_LOG_CALLBACK, on_uri,
		NULL, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
		MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "fake_api_server: cannot listen\n");
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("port %u\n", info != NULL ? (unsigned)info->port : 0u);
	addr.sin_port = 0;
	closed_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (closed_fd < 0 ||
	    bind(closed_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    getsockname(closed_fd, (struct sockaddr *)&addr, &addr_len) != 0) {
		fprintf(stderr, "fake_api_server: cannot hold a closed port\n");
		return 1;
	}
	printf("closed %u\n", (unsigned)ntohs(addr.sin_port));
	fflush(stdout);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	close(closed_fd);
	if (log_file != NULL)
		fclose(log_file);
	for (unsigned i = 0; i < nroutes; i++)
		free(routes[i].body);
	return 0;
}
