/*
 * test_fleet_sim.c -- fleet-sim end to end, against the real thing: a
 * mosquitto broker and an HTTP server (libmicrohttpd, Range and If-Range)
 * started here on free loopback ports, manifests signed by
 * fleet-manifest, commands published with mosquitto_pub exactly as
 * docs/protocol.md's worked examples do, and what the devices say read
 * back from the broker (retained reported, statuses) with the project's
 * codec.
 *
 *   test_fleet_sim FLEET_SIM FLEET_MANIFEST
 *
 * One fleet of 30 devices (with --bad-version 3.0.0) updates to 2.0.0 and
 * commits; a rollback command switches it back to 1.0.0 without a
 * download; an offer of 3.0.0 is reverted by every device, half through
 * the health check, half through crash loops the boot loader ends; the
 * summary fleet-sim prints on SIGTERM agrees. A second fleet of 20
 * devices, each taking a power cut during its install over a slow link,
 * still ends committed on 2.0.0.
 *
 * Encrypted images: a container made with `fleet-manifest seal`, its
 * manifest signed with `sign --sealed`, the content key wrapped with
 * `fleet-manifest wrap` for each device (its wrap key in --wrap-keys DIR
 * as ID.wrap.pem) and sent in each offer's "key". Devices with their own
 * key install and commit 4.0.0; a key wrapped for another device, an offer
 * without a key and a device without a key file are refused
 * (unsupported_package: not_for_this_device, no_key, encryption) with
 * nothing written to slot B. A second fleet holds only a group's key
 * (--wrap-group), every device cut during its install over a slow link:
 * all commit 4.0.0, and the bytes downloaded stay close to the container
 * size per device (resumed at chunk boundaries, not from 0).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <microhttpd.h>
#include <mosquitto.h>

#include "fl/proto.h"

#define MAX_DEV	  64
#define MAX_FILES 8
#define WAIT_S	  60
#define N_MAIN	  30
#define N_CUTS	  20
#define N_ENC	  8 /* e-000001..7 have a wrap key; e-000008 none */
#define N_GROUP	  12
#define MODEL	  "acme-gw-2"

static const char *fleet_sim_bin, *manifest_bin;
static char tmp[256];
static uint16_t mqtt_port, http_port;
static pid_t broker_pid = -1;

/* ---- processes ----------------------------------------------------------- */

static pid_t spawn(const char *const argv[], const char *out, const char *err)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (out != NULL) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			if (fd >= 0)
				dup2(fd, 1);
		}
		if (err != NULL) {
			int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			if (fd >= 0)
				dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int st = 0;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs argv to its end; its exit status. */
static int run(const char *const argv[], const char *out)
{
	pid_t pid = spawn(argv, out, NULL);

	return pid < 0 ? -1 : wait_exit(pid);
}

static uint16_t free_port(void)
{
	struct sockaddr_in a;
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &n) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool can_connect(uint16_t port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void path_of(char *out, size_t size, const char *name)
{
	int n = snprintf(out, size, "%s/%s", tmp, name);

	assert_true(n > 0 && (size_t)n < size);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	while (buf != NULL && n > 0 &&
	       (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return buf;
}

static void write_image(const char *name, size_t len, uint32_t seed)
{
	char path[512];
	uint8_t *d = malloc(len);
	uint32_t x = seed * 2654435761u + 1;
	FILE *f;

	assert_non_null(d);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		d[i] = (uint8_t)x;
	}
	path_of(path, sizeof(path), name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(d, 1, len, f), len);
	fclose(f);
	free(d);
}

/* An image whose first half is random and second half repeats: zstd
 * shrinks half of it. */
static void write_half_image(const char *name, size_t len, uint32_t seed)
{
	char path[512];
	FILE *f;

	write_image(name, len / 2, seed);
	path_of(path, sizeof(path), name);
	f = fopen(path, "ab");
	assert_non_null(f);
	for (size_t i = len / 2; i < len; i++)
		assert_int_not_equal(fputc((int)(i % 251), f), EOF);
	fclose(f);
}

/* fleet-manifest seal: IMAGE into IMAGE's name with .flec, its content
 * key in .key; chunks of 16 KiB, zstd. */
static void seal_image(const char *version)
{
	char img[512], out[512], key[512];
	const char *argv[] = {manifest_bin, "seal", "--in",	 img,
			      "--out",	    out,    "--key-out", key,
			      "--zip",	    "zstd", "--chunk",	 "16384",
			      NULL};
	char name[64];

	snprintf(name, sizeof(name), "fw-%s.bin", version);
	path_of(img, sizeof(img), name);
	snprintf(name, sizeof(name), "fw-%s.flec", version);
	path_of(out, sizeof(out), name);
	snprintf(name, sizeof(name), "fw-%s.key", version);
	path_of(key, sizeof(key), name);
	assert_int_equal(run(argv, "/dev/null"), 0);
}

/* ---- the HTTP server: files of tmp, Range and If-Range ------------------- */

struct file {
	char name[64];
	char etag[80];
	uint8_t *data;
	size_t len;
};

static struct MHD_Daemon *httpd;
static struct file files[MAX_FILES];
static unsigned n_files;
static pthread_mutex_t http_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t http_bytes; /* body bytes sent, under http_lock */
#define RANGES_MAX 256
static unsigned long long ranges[RANGES_MAX]; /* .flec Range starts */
static unsigned n_ranges;		      /* under http_lock */

static void serve_file(const char *name)
{
	char path[512];
	struct file *f = &files[n_files++];
	FILE *fp;
	long n;

	snprintf(f->name, sizeof(f->name), "/%s", name);
	path_of(path, sizeof(path), name);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	f->data = malloc((size_t)n);
	f->len = (size_t)n;
	assert_int_equal(fread(f->data, 1, f->len, fp), f->len);
	fclose(fp);
	snprintf(f->etag, sizeof(f->etag), "\"%s-%zu\"", name, f->len);
}

static enum MHD_Result on_http(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *upload,
			       size_t *upload_len, void **con_cls)
{
	const char *range, *if_range;
	struct MHD_Response *r;
	const struct file *f = NULL;
	unsigned long long from = 0;
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result rc;
	char cr[96];

	(void)cls;
	(void)version;
	(void)upload;
	(void)upload_len;
	(void)con_cls;
	if (strcmp(method, "GET") != 0)
		return MHD_NO;
	for (unsigned i = 0; i < n_files; i++)
		if (strcmp(files[i].name, url) == 0)
			f = &files[i];
	if (f == NULL) {
		r = MHD_create_response_from_buffer(0, (void *)"",
						    MHD_RESPMEM_PERSISTENT);
		rc = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, r);
		MHD_destroy_response(r);
		return rc;
	}
	range = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_RANGE);
	if_range = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					       MHD_HTTP_HEADER_IF_RANGE);
	if (range != NULL && sscanf(range, "bytes=%llu-", &from) == 1 &&
	    (if_range == NULL || strcmp(if_range, f->etag) == 0)) {
		if (from >= f->len) {
			r = MHD_create_response_from_buffer(
				0, (void *)"", MHD_RESPMEM_PERSISTENT);
			rc = MHD_queue_response(
				c, MHD_HTTP_RANGE_NOT_SATISFIABLE, r);
			MHD_destroy_response(r);
			return rc;
		}
		status = MHD_HTTP_PARTIAL_CONTENT;
	} else {
		from = 0;
	}
	r = MHD_create_response_from_buffer(f->len - from, f->data + from,
					    MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, f->etag);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (status == MHD_HTTP_PARTIAL_CONTENT) {
		snprintf(cr, sizeof(cr), "bytes %llu-%zu/%zu", from, f->len - 1,
			 f->len);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	pthread_mutex_lock(&http_lock);
	http_bytes += f->len - from;
	if (from > 0 && strstr(f->name, ".flec") != NULL &&
	    n_ranges < RANGES_MAX)
		ranges[n_ranges++] = from;
	pthread_mutex_unlock(&http_lock);
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static uint64_t served(void)
{
	uint64_t n;

	pthread_mutex_lock(&http_lock);
	n = http_bytes;
	pthread_mutex_unlock(&http_lock);
	return n;
}

/* ---- the observer: what devices say on the broker ------------------------ */

struct devview {
	bool has_reported;
	struct fl_reported rep;
	struct fl_status final; /* the last final status */
	unsigned n_final;
};

static struct mosquitto *obs;
static pthread_mutex_t obs_lock = PTHREAD_MUTEX_INITIALIZER;
static const char FLEETS[] = "tpeg"; /* view[i]: ids FLEETS[i]-NNNNNN */
static struct devview view[4][MAX_DEV];

static struct devview *view_of(const char *id)
{
	const char *dash = strrchr(id, '-');
	const char *f = id[0] != '\0' ? strchr(FLEETS, id[0]) : NULL;
	long i;

	if (dash == NULL || dash - id != 1 || f == NULL)
		return NULL;
	i = strtol(dash + 1, NULL, 10);
	if (i < 1 || i > MAX_DEV)
		return NULL;
	return &view[f - FLEETS][i - 1];
}

static void on_obs_message(struct mosquitto *m, void *obj,
			   const struct mosquitto_message *msg)
{
	char id[FL_DEVICE_ID_MAX];
	struct fl_proto_diag diag;
	struct devview *v;
	int kind = -1;

	(void)m;
	(void)obj;
	if (fl_topic_parse(id, &kind, msg->topic, strlen(msg->topic),
			   "fleet") != 0 ||
	    msg->payloadlen <= 0)
		return;
	pthread_mutex_lock(&obs_lock);
	v = view_of(id);
	if (v != NULL && kind == FL_TOPIC_REPORTED) {
		struct fl_reported r;

		if (fl_proto_decode_reported(&r, msg->payload,
					     (size_t)msg->payloadlen,
					     &diag) == 0) {
			v->rep = r;
			v->has_reported = true;
		}
	} else if (v != NULL && kind == FL_TOPIC_STATUS) {
		struct fl_status s;

		if (fl_proto_decode_status(&s, msg->payload,
					   (size_t)msg->payloadlen,
					   &diag) == 0 &&
		    fl_result_is_final(s.result)) {
			v->final = s;
			v->n_final++;
		}
	}
	pthread_mutex_unlock(&obs_lock);
}

static const char *running(const struct fl_reported *r)
{
	for (unsigned i = 0; i < r->n_components; i++)
		if (strcmp(r->components[i].name, "firmware") == 0)
			return r->components[i].version;
	return "";
}

/* Waits until devices [first, last] of fleet f report version and, with
 * job != 0, that job finished with result. */
static void wait_range(int f, unsigned first, unsigned last,
		       const char *version, uint32_t job, int result)
{
	time_t end = time(NULL) + WAIT_S;
	unsigned ok = 0, n = last - first + 1;

	for (;;) {
		ok = 0;
		pthread_mutex_lock(&obs_lock);
		for (unsigned i = first - 1; i < last; i++) {
			const struct devview *v = &view[f][i];

			if (v->has_reported &&
			    strcmp(running(&v->rep), version) == 0 &&
			    (job == 0 ||
			     (v->rep.job == job && v->rep.result == result &&
			      v->rep.state == FL_STATE_IDLE)))
				ok++;
		}
		pthread_mutex_unlock(&obs_lock);
		if (ok == n || time(NULL) > end)
			break;
		sleep_ms(100);
	}
	if (ok != n) {
		pthread_mutex_lock(&obs_lock);
		for (unsigned i = first - 1; i < last; i++) {
			const struct devview *v = &view[f][i];

			print_message("dev %u: %s job %u state %d result %d "
				      "(last final: job %u %s %s)\n",
				      i + 1, running(&v->rep),
				      (unsigned)v->rep.job, v->rep.state,
				      v->rep.result, (unsigned)v->final.job,
				      fl_result_name(v->final.result),
				      v->final.reason);
		}
		pthread_mutex_unlock(&obs_lock);
	}
	assert_int_equal(ok, n);
}

/* Waits until every device of fleet f (n devices) reports version and,
 * with job != 0, that job finished with result. */
static void wait_all(int f, unsigned n, const char *version, uint32_t job,
		     int result)
{
	wait_range(f, 1, n, version, job, result);
}

/* Waits for device i of fleet f to answer job with a final result
 * (and reason); the command was refused, so reported stays on version
 * with slot B empty and the job not taken. */
static void wait_refused(int f, unsigned i, uint32_t job, int result,
			 const char *reason, const char *version)
{
	time_t end = time(NULL) + WAIT_S;
	struct devview v;

	for (;;) {
		pthread_mutex_lock(&obs_lock);
		v = view[f][i - 1];
		pthread_mutex_unlock(&obs_lock);
		if (v.n_final > 0 && v.final.job == job)
			break;
		assert_true(time(NULL) <= end);
		sleep_ms(100);
	}
	if (v.final.result != result || strcmp(v.final.reason, reason) != 0)
		print_message("%c-%06u: job %u %s %s\n", FLEETS[f], i,
			      (unsigned)job, fl_result_name(v.final.result),
			      v.final.reason);
	assert_int_equal(v.final.result, result);
	assert_string_equal(v.final.reason, reason);
	assert_string_equal(running(&v.rep), version);
	assert_true(v.rep.job != job);
	assert_int_equal(v.rep.n_slots, 2);
	assert_int_equal(v.rep.slots[1].state, FL_WIRE_SLOT_EMPTY);
}

/* ---- commands, as in docs/protocol.md ------------------------------------ */

static void sign(const char *version, const char *file, unsigned seq,
		 bool is_rollback, const char *out)
{
	char key[512], img[512], dst[512], url[256], seq_s[16];
	const char *argv[24];
	int n = 0;

	path_of(key, sizeof(key), "signing.pem");
	path_of(img, sizeof(img), file);
	path_of(dst, sizeof(dst), out);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/%s",
		 (unsigned)http_port, file);
	snprintf(seq_s, sizeof(seq_s), "%u", seq);
	argv[n++] = manifest_bin;
	argv[n++] = "sign";
	argv[n++] = "--key";
	argv[n++] = key;
	argv[n++] = "--component";
	argv[n++] = "firmware";
	argv[n++] = "--version";
	argv[n++] = version;
	argv[n++] = "--hardware";
	argv[n++] = MODEL;
	argv[n++] = "--file";
	argv[n++] = img;
	argv[n++] = "--url";
	argv[n++] = url;
	argv[n++] = "--seq";
	argv[n++] = seq_s;
	if (is_rollback)
		argv[n++] = "--rollback";
	argv[n++] = "--out";
	argv[n++] = dst;
	argv[n] = NULL;
	assert_int_equal(run(argv, NULL), 0);
}

/* fleet-manifest sign --sealed: the manifest of fw-V.bin served as the
 * container fw-V.flec. */
static void sign_sealed(const char *version, unsigned seq, const char *out)
{
	char key[512], img[512], enc[512], dst[512], url[256], seq_s[16];
	char name[64];
	const char *argv[] = {manifest_bin,  "sign",	 "--key",     key,
			      "--component", "firmware", "--version", version,
			      "--hardware",  MODEL,	 "--file",    img,
			      "--sealed",    enc,	 "--url",     url,
			      "--seq",	     seq_s,	 "--out",     dst,
			      NULL};

	path_of(key, sizeof(key), "signing.pem");
	snprintf(name, sizeof(name), "fw-%s.bin", version);
	path_of(img, sizeof(img), name);
	snprintf(name, sizeof(name), "fw-%s.flec", version);
	path_of(enc, sizeof(enc), name);
	path_of(dst, sizeof(dst), out);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/%s",
		 (unsigned)http_port, name);
	snprintf(seq_s, sizeof(seq_s), "%u", seq);
	assert_int_equal(run(argv, "/dev/null"), 0);
}

/* fleet-manifest wrapkey: DIR/NAME.wrap.pem (what --wrap-keys reads),
 * and its public half in tmp as NAME.wrap.pub. */
static void make_wrap_key(const char *dir, const char *name)
{
	char pem[512], pub[512];
	const char *kg[] = {manifest_bin, "wrapkey", "--out", pem, NULL};
	const char *pk[] = {manifest_bin, "pubkey", pem, NULL};
	int n = snprintf(pem, sizeof(pem), "%s/%s.wrap.pem", dir, name);

	assert_true(n > 0 && (size_t)n < sizeof(pem));
	snprintf(pub, sizeof(pub), "%s/%s.wrap.pub", tmp, name);
	assert_int_equal(run(kg, "/dev/null"), 0);
	assert_int_equal(run(pk, pub), 0);
}

/* fleet-manifest wrap: version's content key for the recipient whose
 * public key is tmp/PUB.wrap.pub, named name, bound to manifest: the
 * offer's "key" (free it). */
static char *wrap_for(const char *version, const char *manifest,
		      const char *pub, const char *name)
{
	char ck[512], m[512], to[512], out[512], file[64];
	const char *argv[] = {
		manifest_bin, "wrap", "--content-key", ck,   "--manifest", m,
		"--to",	      to,     "--name",	       name, NULL};
	char *key;

	snprintf(file, sizeof(file), "fw-%s.key", version);
	path_of(ck, sizeof(ck), file);
	path_of(m, sizeof(m), manifest);
	snprintf(to, sizeof(to), "%s/%s.wrap.pub", tmp, pub);
	snprintf(out, sizeof(out), "%s/wrapped.b64", tmp);
	assert_int_equal(run(argv, out), 0);
	key = read_text(out);
	assert_non_null(key);
	return key;
}

/* The container's record starts (where a resume may begin): after its
 * 32-byte header, each record is LE32 len, len bytes, a 16-byte tag. */
static bool is_record_start(const char *flec, unsigned long long off)
{
	char path[512];
	uint8_t *d;
	size_t len, pos = 32;
	bool is_start = false;
	FILE *f;
	long n;

	path_of(path, sizeof(path), flec);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	assert_true(n > 32);
	len = (size_t)n;
	d = malloc(len);
	assert_non_null(d);
	assert_int_equal(fread(d, 1, len, f), len);
	fclose(f);
	while (pos + 4 <= len && !is_start) {
		uint32_t r = (uint32_t)d[pos] | (uint32_t)d[pos + 1] << 8 |
			     (uint32_t)d[pos + 2] << 16 |
			     (uint32_t)d[pos + 3] << 24;

		is_start = pos == off;
		pos += 4 + (size_t)r + 16;
	}
	free(d);
	return is_start;
}

static size_t file_size(const char *name)
{
	char path[512];
	struct stat sb;

	path_of(path, sizeof(path), name);
	assert_int_equal(stat(path, &sb), 0);
	return (size_t)sb.st_size;
}

/* mosquitto_pub of an offer or rollback of manifest file to devices
 * [first, last] of a fleet, with the wrapped key key ("key") if not NULL. */
static void publish_range(const char *prefix, unsigned first, unsigned last,
			  const char *type, uint32_t job, const char *manifest,
			  const char *key)
{
	char path[512], port[8], topic[FL_TOPIC_MAX], *m, *payload;
	long now = (long)time(NULL);
	size_t cap;

	path_of(path, sizeof(path), manifest);
	m = read_text(path);
	assert_non_null(m);
	cap = strlen(m) + (key != NULL ? strlen(key) : 0) + 512;
	payload = malloc(cap);
	assert_non_null(payload);
	snprintf(payload, cap,
		 "{\"type\":\"%s\",\"job\":%u,\"issued\":%ld,\"expires\":%ld,"
		 "\"manifest\":%s,%s%s%s\"health\":{\"window_s\":1}}",
		 type, (unsigned)job, now, now + 3600, m,
		 key != NULL ? "\"key\":\"" : "", key != NULL ? key : "",
		 key != NULL ? "\"," : "");
	snprintf(port, sizeof(port), "%u", (unsigned)mqtt_port);
	for (unsigned i = first; i <= last; i++) {
		const char *argv[] = {"mosquitto_pub",
				      "-h",
				      "127.0.0.1",
				      "-p",
				      port,
				      "-V",
				      "mqttv5",
				      "-q",
				      "1",
				      "-t",
				      topic,
				      "-D",
				      "publish",
				      "message-expiry-interval",
				      "3600",
				      "-m",
				      payload,
				      NULL};

		snprintf(topic, sizeof(topic), "fleet/v1/dev/%s-%06u/cmd",
			 prefix, i);
		assert_int_equal(run(argv, NULL), 0);
	}
	free(payload);
	free(m);
}

/* The same command to every device of a fleet, without a key. */
static void publish_cmd(const char *prefix, unsigned n, const char *type,
			uint32_t job, const char *manifest)
{
	publish_range(prefix, 1, n, type, job, manifest, NULL);
}

/* ---- fleet-sim ----------------------------------------------------------- */

struct sim {
	pid_t pid;
	char out[512], err[512];
};

static void sim_start(struct sim *s, const char *prefix, unsigned n,
		      const char *extra[])
{
	char broker[64], count[16], key[512], image[512];
	const char *argv[48];
	int k = 0;

	snprintf(broker, sizeof(broker), "mqtt://127.0.0.1:%u",
		 (unsigned)mqtt_port);
	snprintf(count, sizeof(count), "%u", n);
	path_of(key, sizeof(key), "signing.pub");
	path_of(image, sizeof(image), "fw-1.0.0.bin");
	snprintf(s->out, sizeof(s->out), "%s/sim-%s.out", tmp, prefix);
	snprintf(s->err, sizeof(s->err), "%s/sim-%s.err", tmp, prefix);
	argv[k++] = fleet_sim_bin;
	argv[k++] = "--broker";
	argv[k++] = broker;
	argv[k++] = "--count";
	argv[k++] = count;
	argv[k++] = "--prefix";
	argv[k++] = prefix;
	argv[k++] = "--model";
	argv[k++] = MODEL;
	argv[k++] = "--labels";
	argv[k++] = "site=lyon,ring=beta";
	argv[k++] = "--version";
	argv[k++] = "1.0.0";
	argv[k++] = "--image";
	argv[k++] = image;
	argv[k++] = "--key";
	argv[k++] = key;
	argv[k++] = "--reboot-ms";
	argv[k++] = "200";
	argv[k++] = "--json";
	for (unsigned i = 0; extra[i] != NULL; i++)
		argv[k++] = extra[i];
	argv[k] = NULL;
	s->pid = spawn(argv, s->out, s->err);
	assert_true(s->pid > 0);
}

/* SIGTERM, then the JSON summary it printed (cJSON_Delete). */
static cJSON *sim_stop(struct sim *s)
{
	char *text;
	cJSON *j;
	int st;

	kill(s->pid, SIGTERM);
	st = wait_exit(s->pid);
	text = read_text(s->out);
	if (st != 0 || text == NULL) {
		char *err = read_text(s->err);

		print_message("fleet-sim exit %d; stderr:\n%s\n", st,
			      err ? err : "");
		free(err);
	}
	assert_int_equal(st, 0);
	assert_non_null(text);
	j = cJSON_Parse(text);
	if (j == NULL)
		print_message("not JSON: %s\n", text);
	free(text);
	assert_non_null(j);
	return j;
}

static double jnum(const cJSON *j, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, a);

	if (b != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* ---- set-up -------------------------------------------------------------- */

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void stop_all(void)
{
	if (broker_pid > 0) {
		kill(broker_pid, SIGTERM);
		wait_exit(broker_pid);
		broker_pid = -1;
	}
	if (httpd != NULL) {
		MHD_stop_daemon(httpd);
		httpd = NULL;
	}
	for (unsigned i = 0; i < n_files; i++)
		free(files[i].data);
	n_files = 0;
	/* FLEET_SIM_TEST_KEEP=1 keeps the folder (logs) for a look. */
	if (tmp[0] != '\0' && getenv("FLEET_SIM_TEST_KEEP") == NULL)
		nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	char conf[512], key[512], pub[512], line[256];
	const char *mq_argv[] = {"mosquitto", "-c", conf, NULL};
	FILE *f;

	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/fleet-sim-test.XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return -1;
	/* broker */
	mqtt_port = free_port();
	path_of(conf, sizeof(conf), "mosquitto.conf");
	f = fopen(conf, "w");
	if (f == NULL)
		return -1;
	fprintf(f,
		"listener %u 127.0.0.1\nallow_anonymous true\n"
		"persistence false\nmax_queued_messages 10000\n",
		(unsigned)mqtt_port);
	fclose(f);
	if (access("/usr/sbin/mosquitto", X_OK) == 0)
		mq_argv[0] = "/usr/sbin/mosquitto";
	path_of(line, sizeof(line), "mosquitto.log");
	broker_pid = spawn(mq_argv, line, line);
	for (int i = 0; i < 100 && !can_connect(mqtt_port); i++)
		sleep_ms(50);
	if (!can_connect(mqtt_port))
		return -1;
	/* keys, images, HTTP */
	path_of(key, sizeof(key), "signing.pem");
	path_of(pub, sizeof(pub), "signing.pub");
	{
		const char *kg[] = {manifest_bin, "keygen", "--out", key, NULL};
		const char *pk[] = {manifest_bin, "pubkey", key, NULL};

		if (run(kg, "/dev/null") != 0 || run(pk, pub) != 0)
			return -1;
	}
	write_image("fw-1.0.0.bin", 40000, 1);
	write_image("fw-2.0.0.bin", 48000 + 7, 2);
	write_image("fw-3.0.0.bin", 44000, 3);
	write_half_image("fw-4.0.0.bin", 131072 + 1000, 4);
	write_half_image("fw-5.0.0.bin", 70000, 5);
	seal_image("4.0.0");
	seal_image("5.0.0");
	serve_file("fw-1.0.0.bin");
	serve_file("fw-2.0.0.bin");
	serve_file("fw-3.0.0.bin");
	serve_file("fw-4.0.0.flec");
	serve_file("fw-5.0.0.flec");
	http_port = free_port();
	httpd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
		http_port, NULL, NULL, on_http, NULL, MHD_OPTION_END);
	if (httpd == NULL)
		return -1;
	/* observer */
	mosquitto_lib_init();
	obs = mosquitto_new(NULL, true, NULL);
	if (obs == NULL)
		return -1;
	mosquitto_message_callback_set(obs, on_obs_message);
	if (mosquitto_connect(obs, "127.0.0.1", mqtt_port, 60) != 0 ||
	    mosquitto_subscribe(obs, NULL, "fleet/v1/dev/#", 1) != 0 ||
	    mosquitto_loop_start(obs) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (obs != NULL) {
		mosquitto_disconnect(obs);
		mosquitto_loop_stop(obs, false);
		mosquitto_destroy(obs);
		obs = NULL;
	}
	mosquitto_lib_cleanup();
	stop_all();
	return 0;
}

/* ---- the scenarios ------------------------------------------------------- */

static void test_fleet_sim__update_rollback_bad_version(void **state)
{
	const char *extra[] = {"--bad-version", "3.0.0", "--seed", "7",
			       "--progress-ms", "1000",	 NULL};
	unsigned by_health = 0, by_crash = 0;
	uint64_t before;
	struct sim s;
	cJSON *j;

	(void)state;
	sign("2.0.0", "fw-2.0.0.bin", 2, false, "m-2.0.0.json");
	sign("1.0.0", "fw-1.0.0.bin", 3, true, "m-1.0.0-rollback.json");
	sign("3.0.0", "fw-3.0.0.bin", 4, false, "m-3.0.0.json");
	sim_start(&s, "t", N_MAIN, extra);

	/* Factory state: 1.0.0 committed in slot A, identity and labels. */
	wait_all(0, N_MAIN, "1.0.0", 0, 0);
	pthread_mutex_lock(&obs_lock);
	assert_string_equal(view[0][0].rep.model, MODEL);
	assert_int_equal(view[0][0].rep.n_labels, 2);
	assert_int_equal(view[0][0].rep.slots[0].state, FL_WIRE_SLOT_CONFIRMED);
	assert_int_equal(view[0][0].rep.floor, 1);
	pthread_mutex_unlock(&obs_lock);

	/* An update: every device downloads, trials, commits. */
	publish_cmd("t", N_MAIN, "offer", 1001, "m-2.0.0.json");
	wait_all(0, N_MAIN, "2.0.0", 1001, FL_RESULT_SUCCESS);
	assert_true(served() >= (uint64_t)N_MAIN * 48007);

	/* A rollback switches back to slot A: no download. */
	before = served();
	publish_cmd("t", N_MAIN, "rollback", 1002, "m-1.0.0-rollback.json");
	wait_all(0, N_MAIN, "1.0.0", 1002, FL_RESULT_ROLLED_BACK);
	assert_int_equal(served(), before);
	pthread_mutex_lock(&obs_lock);
	assert_int_equal(view[0][5].rep.floor, 3);
	pthread_mutex_unlock(&obs_lock);

	/* A bad version: every device reverts and says why. */
	publish_cmd("t", N_MAIN, "offer", 1003, "m-3.0.0.json");
	wait_all(0, N_MAIN, "1.0.0", 1003, FL_RESULT_REVERTED);
	pthread_mutex_lock(&obs_lock);
	for (unsigned i = 0; i < N_MAIN; i++) {
		const struct fl_status *st = &view[0][i].final;

		assert_int_equal(st->job, 1003);
		assert_int_equal(st->result, FL_RESULT_REVERTED);
		if (strcmp(st->reason, "health:boot") == 0) {
			by_health++;
		} else {
			assert_string_equal(st->reason, "not_confirmed");
			assert_int_equal(st->reset, FL_WIRE_RESET_PANIC);
			by_crash++;
		}
	}
	pthread_mutex_unlock(&obs_lock);
	assert_true(by_health > 0);
	assert_true(by_crash > 0);

	/* The summary on SIGTERM agrees. */
	j = sim_stop(&s);
	assert_int_equal(jnum(j, "devices", NULL), N_MAIN);
	assert_int_equal(jnum(j, "versions", "1.0.0"), N_MAIN);
	assert_int_equal(jnum(j, "outcomes", "reverted"), N_MAIN);
	assert_int_equal(jnum(j, "connected", NULL), N_MAIN);
	assert_int_equal(jnum(j, "crashes", NULL), by_crash);
	/* 2.0.0 trial, 1.0.0 trial, then 3.0.0: a trial and a revert. */
	assert_true(jnum(j, "reboots", NULL) >= 4.0 * N_MAIN);
	assert_int_equal(jnum(j, "bricked", NULL), 0);
	assert_int_equal(jnum(j, "halted", NULL), 0);
	assert_int_equal(jnum(j, "power_cuts", NULL), 0);
	cJSON_Delete(j);
}

static void test_fleet_sim__power_cuts_still_commit(void **state)
{
	const char *extra[] = {"--power-cut-rate", "1", "--rate", "60000",
			       "--seed",	   "3", NULL};
	struct sim s;
	cJSON *j;

	(void)state;
	sim_start(&s, "p", N_CUTS, extra);
	wait_all(1, N_CUTS, "1.0.0", 0, 0);
	publish_cmd("p", N_CUTS, "offer", 2001, "m-2.0.0.json");
	wait_all(1, N_CUTS, "2.0.0", 2001, FL_RESULT_SUCCESS);
	j = sim_stop(&s);
	print_message("power cuts: %.0f of %d devices, reboots %.0f\n",
		      jnum(j, "power_cuts", NULL), N_CUTS,
		      jnum(j, "reboots", NULL));
	assert_int_equal(jnum(j, "versions", "2.0.0"), N_CUTS);
	assert_int_equal(jnum(j, "outcomes", "success"), N_CUTS);
	assert_true(jnum(j, "power_cuts", NULL) >= N_CUTS / 2);
	assert_int_equal(jnum(j, "bricked", NULL), 0);
	assert_int_equal(jnum(j, "halted", NULL), 0);
	cJSON_Delete(j);
}

/* Encrypted images, each device's own wrap key in --wrap-keys DIR. */
static void test_fleet_sim__encrypted_per_device_keys(void **state)
{
	char dir[512], id[N_ENC + 1][16], *key4[N_ENC + 1], *key5[N_ENC + 1];
	const char *extra[] = {"--wrap-keys", dir,	"--bad-version",
			       "5.0.0",	      "--seed", "11",
			       NULL};
	size_t enc_len = file_size("fw-4.0.0.flec");
	uint64_t before;
	struct sim s;
	cJSON *j;

	(void)state;
	path_of(dir, sizeof(dir), "wrap");
	assert_int_equal(mkdir(dir, 0700), 0);
	sign_sealed("4.0.0", 5, "m-4.0.0.json");
	sign_sealed("5.0.0", 6, "m-5.0.0.json");
	/* e-000008 has no key file: it holds no wrap key at all. */
	for (unsigned i = 1; i < N_ENC; i++) {
		snprintf(id[i], sizeof(id[i]), "e-%06u", i);
		make_wrap_key(dir, id[i]);
		key4[i] = wrap_for("4.0.0", "m-4.0.0.json", id[i], id[i]);
		key5[i] = wrap_for("5.0.0", "m-5.0.0.json", id[i], id[i]);
	}
	sim_start(&s, "e", N_ENC, extra);
	wait_all(2, N_ENC, "1.0.0", 0, 0);

	before = served();
	for (unsigned i = 1; i <= 5; i++)
		publish_range("e", i, i, "offer", 3001, "m-4.0.0.json",
			      key4[i]);
	/* e-000006 is sent e-000001's key; e-000007 no key; e-000008,
	 * without a wrap key, e-000001's. */
	publish_range("e", 6, 6, "offer", 3001, "m-4.0.0.json", key4[1]);
	publish_range("e", 7, 7, "offer", 3001, "m-4.0.0.json", NULL);
	publish_range("e", 8, 8, "offer", 3001, "m-4.0.0.json", key4[1]);
	wait_range(2, 1, 5, "4.0.0", 3001, FL_RESULT_SUCCESS);
	wait_refused(2, 6, 3001, FL_RESULT_UNSUPPORTED_PACKAGE,
		     "not_for_this_device", "1.0.0");
	wait_refused(2, 7, 3001, FL_RESULT_UNSUPPORTED_PACKAGE, "no_key",
		     "1.0.0");
	wait_refused(2, 8, 3001, FL_RESULT_UNSUPPORTED_PACKAGE, "encryption",
		     "1.0.0");
	/* Only the five devices fetched the container, once each. */
	assert_int_equal(served() - before, 5 * (uint64_t)enc_len);

	/* A bad encrypted version: downloaded, unsealed, booted, reverted. */
	for (unsigned i = 1; i <= 5; i++)
		publish_range("e", i, i, "offer", 3002, "m-5.0.0.json",
			      key5[i]);
	wait_range(2, 1, 5, "4.0.0", 3002, FL_RESULT_REVERTED);

	j = sim_stop(&s);
	assert_int_equal(jnum(j, "versions", "4.0.0"), 5);
	assert_int_equal(jnum(j, "versions", "1.0.0"), N_ENC - 5);
	assert_int_equal(jnum(j, "outcomes", "reverted"), 5);
	assert_int_equal(jnum(j, "outcomes", "no_job"), N_ENC - 5);
	assert_int_equal(jnum(j, "bricked", NULL), 0);
	assert_int_equal(jnum(j, "halted", NULL), 0);
	cJSON_Delete(j);
	for (unsigned i = 1; i < N_ENC; i++) {
		free(key4[i]);
		free(key5[i]);
	}
}

/* Encrypted images with a group's key only (--wrap-group), every device
 * cut once during its install over a slow link: all commit, resumed at
 * record boundaries. */
static void test_fleet_sim__encrypted_group_power_cuts(void **state)
{
	char grp[600], pem[512];
	const char *extra[] = {"--wrap-group",
			       grp,
			       "--power-cut-rate",
			       "1",
			       "--rate",
			       "60000",
			       "--seed",
			       "4",
			       NULL};
	const char *kg[] = {manifest_bin, "wrapkey", "--out", pem, NULL};
	size_t enc_len = file_size("fw-4.0.0.flec");
	unsigned n_ranges_seen;
	struct sim s;
	char *key;
	cJSON *j;
	double dl;

	(void)state;
	path_of(pem, sizeof(pem), "group-a.wrap.pem");
	snprintf(grp, sizeof(grp), "group-a=%s", pem);
	assert_int_equal(run(kg, "/dev/null"), 0);
	{
		char pub[512];
		const char *pk[] = {manifest_bin, "pubkey", pem, NULL};

		path_of(pub, sizeof(pub), "group-a.wrap.pub");
		assert_int_equal(run(pk, pub), 0);
	}
	sign_sealed("4.0.0", 5, "m-4.0.0.json");
	key = wrap_for("4.0.0", "m-4.0.0.json", "group-a", "group-a");
	pthread_mutex_lock(&http_lock);
	n_ranges = 0;
	pthread_mutex_unlock(&http_lock);
	sim_start(&s, "g", N_GROUP, extra);
	wait_all(3, N_GROUP, "1.0.0", 0, 0);
	publish_range("g", 1, N_GROUP, "offer", 4001, "m-4.0.0.json", key);
	wait_all(3, N_GROUP, "4.0.0", 4001, FL_RESULT_SUCCESS);
	j = sim_stop(&s);
	dl = jnum(j, "downloaded_bytes", NULL);
	pthread_mutex_lock(&http_lock);
	n_ranges_seen = n_ranges;
	for (unsigned i = 0; i < n_ranges; i++)
		assert_true(is_record_start("fw-4.0.0.flec", ranges[i]));
	pthread_mutex_unlock(&http_lock);
	print_message("encrypted, power cuts: %.0f of %d devices, %u resumed "
		      "with Range, %.0f bytes downloaded for %zu-byte "
		      "containers (%.2f per device)\n",
		      jnum(j, "power_cuts", NULL), N_GROUP, n_ranges_seen, dl,
		      enc_len, dl / (double)enc_len / N_GROUP);
	assert_int_equal(jnum(j, "versions", "4.0.0"), N_GROUP);
	assert_int_equal(jnum(j, "outcomes", "success"), N_GROUP);
	assert_true(jnum(j, "power_cuts", NULL) >= N_GROUP / 2);
	assert_int_equal(jnum(j, "bricked", NULL), 0);
	assert_int_equal(jnum(j, "halted", NULL), 0);
	/* One cut per device loses at most what came after its last
	 * checkpoint: never a second whole container. */
	assert_true(dl >= (double)N_GROUP * (double)enc_len);
	assert_true(dl < 2.0 * (double)N_GROUP * (double)enc_len);
	cJSON_Delete(j);
	free(key);
}

/* Worker processes: 25 devices over 3 of them; the parent forwards
 * SIGTERM and adds their summaries up. */
static void test_fleet_sim__workers_share_the_fleet(void **state)
{
	const char *extra[] = {"--per-process", "10", "--progress-ms", "200",
			       NULL};
	time_t end = time(NULL) + WAIT_S;
	bool is_up = false;
	struct sim s;
	cJSON *j;

	(void)state;
	sim_start(&s, "w", 25, extra);
	while (!is_up && time(NULL) < end) {
		char *err = read_text(s.err);

		is_up = err != NULL && strstr(err, " connected=25 ") != NULL;
		free(err);
		sleep_ms(100);
	}
	assert_true(is_up);
	j = sim_stop(&s);
	assert_int_equal(jnum(j, "devices", NULL), 25);
	assert_int_equal(jnum(j, "connected", NULL), 25);
	assert_int_equal(jnum(j, "versions", "1.0.0"), 25);
	assert_int_equal(jnum(j, "outcomes", "no_job"), 25);
	cJSON_Delete(j);
}

/* The same --seed gives the same fault profile, whatever the number of
 * processes; another seed another one. Half the offline devices drop
 * off and come back every second or so meanwhile. */
static void test_fleet_sim__seed_reproduces_profiles(void **state)
{
	static const char *const runs[][4] = {
		{"--seed", "5", "--per-process", "40"},
		{"--seed", "5", "--per-process", "15"},
		{"--seed", "6", "--per-process", "40"},
	};
	double never[3];

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		const char *extra[] = {"--offline-rate",
				       "0.5",
				       "--offline-period",
				       "1",
				       "--duration",
				       "3",
				       runs[i][0],
				       runs[i][1],
				       runs[i][2],
				       runs[i][3],
				       NULL};
		struct sim s;
		cJSON *j;
		int st;

		sim_start(&s, "r", 40, extra);
		st = wait_exit(s.pid);
		assert_int_equal(st, 0);
		s.pid = -1;
		{
			char *text = read_text(s.out);

			assert_non_null(text);
			j = cJSON_Parse(text);
			free(text);
		}
		assert_non_null(j);
		never[i] = jnum(j, "never_online", NULL);
		assert_int_equal(jnum(j, "devices", NULL), 40);
		assert_true(never[i] > 0 && never[i] < 40);
		/* The others come and go; nothing breaks. */
		assert_true(jnum(j, "connected", NULL) <= 40 - never[i]);
		assert_int_equal(jnum(j, "halted", NULL), 0);
		assert_int_equal(jnum(j, "on", NULL), 40);
		cJSON_Delete(j);
	}
	assert_true(never[0] == never[1]);
	print_message("never online: seed 5: %.0f, seed 6: %.0f\n", never[0],
		      never[2]);
}

/* Usage errors exit 2 with one line; a fleet of 0 runs and stops. */
static void test_fleet_sim__usage(void **state)
{
	static const char *const bad[][6] = {
		{"--count", "3", NULL},
		{"--broker", "mqtt://127.0.0.1:1", NULL},
		{"--broker", "ftp://x", "--count", "1", NULL},
		{"--broker", "mqtt://h", "--count", "1", "--fail-rate", "2"},
		{"--broker", "mqtt://h", "--count", "x", NULL},
		{"--broker", "mqtt://h", "--count", "1", "--labels", "a"},
		{"--broker", "mqtt://h", "--count", "1", "--bogus", NULL},
		{"--broker", "mqtt://h", "--count", "1", "--chunk-max", "5000"},
		{"--broker", "mqtt://h", "--count", "1", "--wrap-group", "g"},
		{"--broker", "mqtt://h", "--count", "1", "--wrap-group", "=f"},
	};
	char err[512], broker[64];

	(void)state;
	path_of(err, sizeof(err), "usage.err");
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[8] = {fleet_sim_bin};
		pid_t pid;

		for (unsigned k = 0; k < 6 && bad[i][k] != NULL; k++)
			argv[k + 1] = bad[i][k];
		pid = spawn(argv, "/dev/null", err);
		assert_int_equal(wait_exit(pid), 2);
	}
	{
		char *text = read_text(err);

		assert_non_null(text);
		assert_non_null(strstr(text, "fleet-sim: "));
		free(text);
	}
	/* Keys that cannot be used: exit 1 with the reason. */
	{
		char grp[600], pub[512];
		const char *a1[] = {fleet_sim_bin,  "--broker", "mqtt://h",
				    "--count",	    "1",	"--wrap-keys",
				    "/nonexistent", NULL};
		const char *a2[] = {fleet_sim_bin, "--broker", "mqtt://h",
				    "--count",	   "1",	       "--wrap-group",
				    grp,	   NULL};
		char *text;

		path_of(pub, sizeof(pub), "signing.pub");
		snprintf(grp, sizeof(grp), "g=%s", pub);
		assert_int_equal(wait_exit(spawn(a1, "/dev/null", err)), 1);
		assert_int_equal(wait_exit(spawn(a2, "/dev/null", err)), 1);
		text = read_text(err);
		assert_non_null(text);
		assert_non_null(strstr(text, "--wrap-group: "));
		free(text);
	}
	snprintf(broker, sizeof(broker), "mqtt://127.0.0.1:%u",
		 (unsigned)mqtt_port);
	{
		const char *argv[] = {fleet_sim_bin, "--broker", broker,
				      "--count",     "0",	 "--duration",
				      "1",	     NULL};

		assert_int_equal(wait_exit(spawn(argv, "/dev/null", err)), 0);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fleet_sim__update_rollback_bad_version),
		cmocka_unit_test(test_fleet_sim__power_cuts_still_commit),
		cmocka_unit_test(test_fleet_sim__encrypted_per_device_keys),
		cmocka_unit_test(test_fleet_sim__encrypted_group_power_cuts),
		cmocka_unit_test(test_fleet_sim__workers_share_the_fleet),
		cmocka_unit_test(test_fleet_sim__seed_reproduces_profiles),
		cmocka_unit_test(test_fleet_sim__usage),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s FLEET_SIM FLEET_MANIFEST\n",
			argv[0]);
		return 2;
	}
	fleet_sim_bin = argv[1];
	manifest_bin = argv[2];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
