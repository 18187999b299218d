/*
 * test_fleetd.c -- fleetd end to end: the real fleetd program with its
 * embedded mosquitto, fleets of fleet-sim devices, rollouts started and
 * followed through the REST API (libcurl), the event log and the devices
 * read back from it.
 *
 *   test_fleetd SCENARIO FLEETD FLEET_SIM MOSQUITTO [FLEETCTL]
 *
 * One scenario per run (ctest runs them side by side), each in its own
 * temporary folder with its own ports:
 *
 *   basics    usage errors (exit 2), --version, a bad configuration
 *             (exit 1, FILE:LINE:COL), a second fleetd on the same data
 *             refused, SIGTERM and SIGINT stop fleetd and its broker,
 *             kill -9 leaves no broker behind and the next start copes
 *             with the stale broker.pid; a stale broker still running
 *             is stopped; the broker's port taken by another program is
 *             refused with the reason;
 *   good      a good version through a canary and two waves to complete
 *             (started and checked with fleetctl when it is given),
 *             every device on it; every command seen by another client:
 *             QoS 1, not retained, message expiry = expires - now;
 *   canary    a bad version caught in the canary and rolled back: no
 *             device beyond the canary offered, every device back;
 *   wave      a bad version (on the main fleet only) caught in a later
 *             wave: the canary, which had committed it, rolled back with
 *             the rest, every device back on its old version;
 *   kill      fleetd killed with -9 at four points of a rollout and
 *             started again each time: the rollout completes, the event
 *             log has no gap, every device got one offer job, succeeded
 *             once and never failed;
 *   broker    the embedded broker killed mid-rollout: fleetd starts it
 *             again, its client (statuses through shared subscriptions)
 *             and the devices reconnect, the rollout completes;
 *   offline   part of the fleet offline when its stage starts: unreached,
 *             never offered while away, the stage waits; the devices come
 *             back later, are offered and install it.
 *
 * FLEETD_TEST_KEEP=1 keeps the folder (fleetd.log, sim-*.log) for a look.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
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
#include <curl/curl.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/evp.h>

extern char **environ;

#define WAIT_S	    90 /* any one wait; ASan on two slow cores */
#define MODEL	    "sim-model"
#define IMAGE_BYTES 20000
#define MAX_EVENTS  20000
#define MAX_DEVS    64
#define PATH_LEN    512

static const char *scenario, *fleetd_bin, *sim_bin, *mosquitto_bin;
static const char *fleetctl_bin; /* NULL: started through the API */
static char tmp[256];
static char sha[65]; /* the 2.0.0 image */

/* ---- small things -------------------------------------------------------- */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000),
			      (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
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
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	n = (long)fread(buf, 1, (size_t)n, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static uint16_t free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(s);
	return port;
}

static bool can_connect(uint16_t port)
{
	struct sockaddr_in a;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

static bool is_alive(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;
	size_t n;
	const char *p;

	if (pid <= 0 || kill(pid, 0) != 0)
		return false;
	/* A zombie (its parent gone and nobody reaping) is not alive. */
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p == NULL || p[1] != ' ' || (p[2] != 'Z' && p[2] != 'X');
}

/* ---- processes ----------------------------------------------------------- */

/* Starts argv with stdout and stderr appended to files (NULL: /dev/null). */
static pid_t spawn(const char *const argv[], const char *out, const char *err)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err ? err : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL,
				     (char *const *)argv, environ),
			 0);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* Waits for pid to end, at most ms; its exit status, or -1 (still running,
 * or killed by a signal: -signal). */
static int wait_pid(pid_t pid, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	int st = 0;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
		if (r < 0 || now_ms() >= end)
			return -1000;
		sleep_ms(20);
	}
}

static int run_status(const char *const argv[], const char *err)
{
	pid_t pid = spawn(argv, NULL, err);

	return wait_pid(pid, WAIT_S * 1000);
}

static void stop_pid(pid_t *pid, int sig)
{
	if (*pid <= 0)
		return;
	kill(*pid, sig);
	if (wait_pid(*pid, 20000) == -1000) {
		kill(*pid, SIGKILL);
		(void)wait_pid(*pid, 5000);
	}
	*pid = -1;
}

/* ---- fleetd -------------------------------------------------------------- */

struct fleetd {
	pid_t pid;
	unsigned starts;
	uint16_t broker_port;
	char conf[PATH_LEN], log[PATH_LEN], data[PATH_LEN];
	char api[128];
};

static struct fleetd fd_;

static void fleetd_config(struct fleetd *f, const char *extra)
{
	char text[2048];

	path_of(f->conf, sizeof(f->conf), "fleetd.yaml");
	path_of(f->log, sizeof(f->log), "fleetd.log");
	path_of(f->data, sizeof(f->data), "data");
	/* Fixed ports: the manifests of a rollout name the artifact server's
	 * address, and devices are configured with the broker's. */
	f->broker_port = free_port();
	snprintf(text, sizeof(text),
		 "# fleetd for %s\n"
		 "data: %s\n"
		 "listen: 127.0.0.1:%u\n"
		 "broker: embedded\n"
		 "broker_port: %u\n"
		 "mosquitto: %s\n"
		 "log_level: debug\n"
		 "resend: 3s\n"
		 "offer_ttl: 1h\n"
		 "%s",
		 scenario, f->data, (unsigned)free_port(),
		 (unsigned)f->broker_port, mosquitto_bin,
		 extra != NULL ? extra : "");
	write_text(f->conf, text);
}

/* Starts fleetd and waits for its "API on" line. */
static void fleetd_start(struct fleetd *f)
{
	char out[PATH_LEN], name[32];
	const char *argv[] = {fleetd_bin, "--config", f->conf, NULL};
	uint64_t end = now_ms() + WAIT_S * 1000u;

	snprintf(name, sizeof(name), "fleetd-%u.out", ++f->starts);
	path_of(out, sizeof(out), name);
	f->pid = spawn(argv, out, f->log);
	for (;;) {
		char *text = read_text(out);
		const char *p = text ? strstr(text, "fleetd: API on ") : NULL;
		unsigned bport = 0;

		if (p != NULL) {
			char api[128];

			assert_int_equal(sscanf(p,
						"fleetd: API on %127[^,], "
						"broker mqtt://127.0.0.1:%u",
						api, &bport),
					 2);
			snprintf(f->api, sizeof(f->api), "%s", api);
			assert_int_equal(bport, f->broker_port);
			free(text);
			return;
		}
		free(text);
		if (!is_alive(f->pid) || now_ms() > end) {
			char *log = read_text(f->log);

			fprintf(stderr, "fleetd did not start:\n%s\n",
				log ? log : "");
			free(log);
			fail();
		}
		sleep_ms(50);
	}
}

static pid_t broker_pid(const struct fleetd *f)
{
	char path[PATH_LEN + 32];
	char *text;
	long pid = -1;

	snprintf(path, sizeof(path), "%s/mosquitto/broker.pid", f->data);
	text = read_text(path);
	if (text != NULL && sscanf(text, "%ld", &pid) != 1)
		pid = -1;
	free(text);
	return (pid_t)pid;
}

/* ---- HTTP ---------------------------------------------------------------- */

struct buf {
	char *p;
	size_t n;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	char *q = realloc(b->p, b->n + size * n + 1);

	assert_non_null(q);
	memcpy(q + b->n, p, size * n);
	b->n += size * n;
	q[b->n] = '\0';
	b->p = q;
	return size * n;
}

/* One request to fleetd's API; the status (0: no answer), the JSON body
 * in *json if asked (the caller's, cJSON_Delete). */
static long http(const char *method, const char *path, const void *body,
		 size_t len, const char *type, cJSON **json)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct buf b = {NULL, 0};
	char url[512], ct[64];
	long status = 0;

	assert_non_null(c);
	snprintf(url, sizeof(url), "%s%s", fd_.api, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", type);
		h = curl_slist_append(h, ct);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (json != NULL)
		*json = b.p != NULL ? cJSON_Parse(b.p) : NULL;
	free(b.p);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

static cJSON *get_json(const char *path)
{
	cJSON *j = NULL;
	long st = http("GET", path, NULL, 0, NULL, &j);

	if (st != 200) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* ---- the fleet ----------------------------------------------------------- */

struct sim {
	pid_t pid;
	char prefix[16];
	unsigned n;
	const char *labels, *bad;
	unsigned seed;
};

static void sim_start(struct sim *s)
{
	char broker[64], count[16], key[PATH_LEN + 32], log[PATH_LEN], name[48],
		seed[16];
	const char *argv[40];
	int i = 0;

	snprintf(broker, sizeof(broker), "mqtt://127.0.0.1:%u",
		 (unsigned)fd_.broker_port);
	snprintf(count, sizeof(count), "%u", s->n);
	snprintf(key, sizeof(key), "%s/keys/signing.pub", fd_.data);
	snprintf(name, sizeof(name), "sim-%s.log", s->prefix);
	snprintf(seed, sizeof(seed), "%u", s->seed);
	path_of(log, sizeof(log), name);
	argv[i++] = sim_bin;
	argv[i++] = "--broker";
	argv[i++] = broker;
	argv[i++] = "--count";
	argv[i++] = count;
	argv[i++] = "--prefix";
	argv[i++] = s->prefix;
	argv[i++] = "--model";
	argv[i++] = MODEL;
	argv[i++] = "--version";
	argv[i++] = "1.0.0";
	argv[i++] = "--key";
	argv[i++] = key;
	argv[i++] = "--reboot-ms";
	argv[i++] = "200";
	argv[i++] = "--health-interval";
	argv[i++] = "1";
	argv[i++] = "--keepalive";
	argv[i++] = "10";
	argv[i++] = "--image-size";
	argv[i++] = "8192";
	argv[i++] = "--seed";
	argv[i++] = seed;
	argv[i++] = "--verbose";
	if (s->labels != NULL) {
		argv[i++] = "--labels";
		argv[i++] = s->labels;
	}
	if (s->bad != NULL) {
		argv[i++] = "--bad-version";
		argv[i++] = s->bad;
	}
	argv[i] = NULL;
	s->pid = spawn(argv, log, log);
}

/* The devices fleetd knows with this prefix: how many, how many online,
 * how many run version v (NULL: not counted). */
struct census {
	unsigned known, online, on_version;
};

static struct census census(const char *prefix, const char *v)
{
	struct census c = {0, 0, 0};
	cJSON *j = get_json("/api/v1/devices?limit=1000");
	const cJSON *d;

	if (j == NULL)
		return c;
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(j, "devices"))
	{
		const char *id = jstr(d, "id");
		const cJSON *vers, *fw;

		if (id == NULL || strncmp(id, prefix, strlen(prefix)) != 0 ||
		    id[strlen(prefix)] != '-')
			continue;
		c.known++;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "online")))
			c.online++;
		vers = cJSON_GetObjectItemCaseSensitive(d, "versions");
		fw = cJSON_GetObjectItemCaseSensitive(vers, "firmware");
		if (v != NULL && cJSON_IsString(fw) &&
		    strcmp(fw->valuestring, v) == 0)
			c.on_version++;
	}
	cJSON_Delete(j);
	return c;
}

static void wait_online(const char *prefix, unsigned n)
{
	uint64_t end = now_ms() + WAIT_S * 1000u;
	struct census c;

	while ((c = census(prefix, NULL)).online < n) {
		if (now_ms() > end) {
			fprintf(stderr, "%s: %u of %u devices online\n", prefix,
				c.online, n);
			fail();
		}
		sleep_ms(200);
	}
}

static void wait_versions(const char *prefix, unsigned n, const char *v)
{
	uint64_t end = now_ms() + WAIT_S * 1000u;
	struct census c;

	while ((c = census(prefix, v)).on_version < n) {
		if (now_ms() > end) {
			fprintf(stderr, "%s: %u of %u devices on %s\n", prefix,
				c.on_version, n, v);
			fail();
		}
		sleep_ms(200);
	}
}

/* A sample of /metrics by its name and labels; -1 if absent. */
static double metric(const char *series)
{
	struct buf b = {NULL, 0};
	CURL *c = curl_easy_init();
	char url[256];
	double v = -1;
	const char *p;

	snprintf(url, sizeof(url), "%s/metrics", fd_.api);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (curl_easy_perform(c) == CURLE_OK && b.p != NULL)
		for (p = b.p; p != NULL; p = strchr(p, '\n')) {
			if (*p == '\n')
				p++;
			if (strncmp(p, series, strlen(series)) == 0 &&
			    p[strlen(series)] == ' ') {
				v = strtod(p + strlen(series) + 1, NULL);
				break;
			}
		}
	free(b.p);
	curl_easy_cleanup(c);
	return v;
}

/* ---- rollouts ------------------------------------------------------------ */

static void make_image(void)
{
	unsigned char img[IMAGE_BYTES], md[32];
	unsigned md_len = 0;
	char path[PATH_LEN];
	FILE *f;

	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (unsigned char)(i * 7u + 3u);
	memcpy(img, "fw 2.0.0", 8);
	assert_int_equal(
		EVP_Digest(img, sizeof(img), md, &md_len, EVP_sha256(), NULL),
		1);
	for (unsigned i = 0; i < 32; i++)
		snprintf(sha + 2 * i, 3, "%02x", md[i]);
	path_of(path, sizeof(path), "fw-2.0.0.bin");
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(img, 1, sizeof(img), f), sizeof(img));
	assert_int_equal(fclose(f), 0);
}

static void upload_image(void)
{
	char path[PATH_LEN], url[128];
	char *img;
	long st;

	path_of(path, sizeof(path), "fw-2.0.0.bin");
	img = read_text(path);
	assert_non_null(img);
	snprintf(url, sizeof(url), "/api/v1/artifacts/%s", sha);
	st = http("PUT", url, img, IMAGE_BYTES, "application/octet-stream",
		  NULL);
	free(img);
	assert_true(st == 200 || st == 201);
}

/* A plan for 2.0.0: its stages (YAML lines) and a short soak. */
static void plan_text(char *plan, size_t cap, const char *name,
		      const char *stages)
{
	snprintf(plan, cap,
		 "rollout: %s\n"
		 "artifact:\n"
		 "  version: 2.0.0\n"
		 "  file: fw-2.0.0.bin\n"
		 "  hardware: [" MODEL "]\n"
		 "health:\n"
		 "  soak: 2s\n"
		 "  on_failure: rollback\n"
		 "stages:\n%s",
		 name, stages);
}

static void start_rollout(const char *name, const char *stages)
{
	char plan[2048];
	cJSON *req = cJSON_CreateObject(), *ans = NULL;
	char *body;
	long st;

	plan_text(plan, sizeof(plan), name, stages);
	cJSON_AddStringToObject(req, "plan", plan);
	cJSON_AddStringToObject(req, "plan_file", "test.yaml");
	cJSON_AddStringToObject(req, "artifact_sha256", sha);
	cJSON_AddStringToObject(req, "who", "test");
	body = cJSON_PrintUnformatted(req);
	st = http("POST", "/api/v1/rollouts", body, strlen(body),
		  "application/json", &ans);
	if (st != 201) {
		char *a = ans ? cJSON_Print(ans) : NULL;

		fprintf(stderr, "rollout start: %ld %s\n", st, a ? a : "");
		free(a);
	}
	assert_int_equal(st, 201);
	cJSON_Delete(ans);
	cJSON_Delete(req);
	free(body);
}

static char *rollout_state(const char *name)
{
	char path[128];
	cJSON *j;
	char *s = NULL;

	snprintf(path, sizeof(path), "/api/v1/rollouts/%s", name);
	j = get_json(path);
	if (j != NULL && jstr(j, "state") != NULL)
		s = strdup(jstr(j, "state"));
	cJSON_Delete(j);
	return s;
}

static void wait_state(const char *name, const char *want)
{
	uint64_t end = now_ms() + WAIT_S * 1000u;

	for (;;) {
		char *s = rollout_state(name);
		bool is_it = s != NULL && strcmp(s, want) == 0;

		if (is_it) {
			free(s);
			return;
		}
		if (now_ms() > end) {
			fprintf(stderr, "rollout %s is %s, not %s\n", name,
				s ? s : "(no answer)", want);
			free(s);
			fail();
		}
		free(s);
		sleep_ms(200);
	}
}

/* ---- the event log ------------------------------------------------------- */

struct ev {
	uint64_t seq;
	char kind[40];
	char device[64];
	char stage[32];
	uint32_t job;
};

static struct ev evs[MAX_EVENTS];
static size_t n_evs;

/* Reads the whole log (every rollout) into evs. */
static void read_events(void)
{
	uint64_t after = 0;

	n_evs = 0;
	for (;;) {
		char path[96];
		cJSON *j, *list;
		const cJSON *e;
		int n;

		snprintf(path, sizeof(path),
			 "/api/v1/events?after=%llu&limit=1000",
			 (unsigned long long)after);
		j = get_json(path);
		assert_non_null(j);
		list = cJSON_GetObjectItemCaseSensitive(j, "events");
		n = cJSON_GetArraySize(list);
		cJSON_ArrayForEach(e, list)
		{
			struct ev *x = &evs[n_evs];
			const cJSON *detail =
				cJSON_GetObjectItemCaseSensitive(e, "detail");
			double job = jnum(detail, "job");

			assert_true(n_evs < MAX_EVENTS);
			memset(x, 0, sizeof(*x));
			x->seq = (uint64_t)jnum(e, "seq");
			snprintf(x->kind, sizeof(x->kind), "%s",
				 jstr(e, "kind") ? jstr(e, "kind") : "");
			snprintf(x->device, sizeof(x->device), "%s",
				 jstr(e, "device") ? jstr(e, "device") : "");
			snprintf(x->stage, sizeof(x->stage), "%s",
				 jstr(e, "stage") ? jstr(e, "stage") : "");
			x->job = job > 0 ? (uint32_t)job : 0;
			after = x->seq;
			n_evs++;
		}
		cJSON_Delete(j);
		if (n == 0)
			break;
	}
}

static bool has_event(const char *kind, const char *device)
{
	for (size_t i = 0; i < n_evs; i++)
		if (strcmp(evs[i].kind, kind) == 0 &&
		    (device == NULL || strcmp(evs[i].device, device) == 0))
			return true;
	return false;
}

static unsigned count_events(const char *kind, const char *device)
{
	unsigned n = 0;

	for (size_t i = 0; i < n_evs; i++)
		if (strcmp(evs[i].kind, kind) == 0 &&
		    (device == NULL || strcmp(evs[i].device, device) == 0))
			n++;
	return n;
}

/* Waits until the log holds an event of this kind (any device). */
static void wait_event(const char *kind)
{
	uint64_t end = now_ms() + WAIT_S * 1000u;

	for (;;) {
		read_events();
		if (has_event(kind, NULL))
			return;
		if (now_ms() > end) {
			fprintf(stderr, "no %s event\n", kind);
			fail();
		}
		sleep_ms(100);
	}
}

/* The log has no gap: sequence numbers 1, 2, 3 ... */
static void check_log_whole(void)
{
	read_events();
	assert_true(n_evs > 0);
	for (size_t i = 0; i < n_evs; i++)
		if (evs[i].seq != i + 1) {
			fprintf(stderr, "event %zu has seq %llu\n", i + 1,
				(unsigned long long)evs[i].seq);
			fail();
		}
}

/* Every device of prefix: one offer job at most (re-sends carry the same
 * id), at most one of device_succeeded / device_failed. */
static void check_one_decision_each(const char *prefix, unsigned n)
{
	for (unsigned d = 1; d <= n; d++) {
		char id[64];
		uint32_t job = 0;
		unsigned ok, bad;

		snprintf(id, sizeof(id), "%s-%06u", prefix, d);
		for (size_t i = 0; i < n_evs; i++) {
			if (strcmp(evs[i].kind, "decision.offer") != 0 ||
			    strcmp(evs[i].device, id) != 0)
				continue;
			if (job != 0 && evs[i].job != job) {
				fprintf(stderr, "%s: offers %u and %u\n", id,
					job, evs[i].job);
				fail();
			}
			job = evs[i].job;
		}
		ok = count_events("decision.device_succeeded", id);
		bad = count_events("decision.device_failed", id);
		if (ok + bad > 1) {
			fprintf(stderr, "%s: %u successes, %u failures\n", id,
				ok, bad);
			fail();
		}
	}
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

static struct sim sims[3];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/fleetd-test-%s.XXXXXX", scenario);
	if (mkdtemp(tmp) == NULL)
		return -1;
	memset(&fd_, 0, sizeof(fd_));
	fd_.pid = -1;
	for (unsigned i = 0; i < 3; i++)
		sims[i].pid = -1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int teardown(void **state)
{
	pid_t b = broker_pid(&fd_);
	int rc = 0;

	(void)state;
	for (unsigned i = 0; i < 3; i++)
		stop_pid(&sims[i].pid, SIGTERM);
	/* A clean stop exits 0: no sanitizer report, no leak. */
	if (fd_.pid > 0) {
		kill(fd_.pid, SIGTERM);
		rc = wait_pid(fd_.pid, 30000);
		if (rc != 0) {
			fprintf(stderr,
				"fleetd: exit status %d at SIGTERM (%s)\n", rc,
				fd_.log);
			stop_pid(&fd_.pid, SIGKILL);
			rc = -1;
		}
		fd_.pid = -1;
	}
	/* fleetd stops its broker; one left by a failure is ours to end. */
	if (b > 0 && is_alive(b)) {
		kill(b, SIGKILL);
		sleep_ms(100);
	}
	curl_global_cleanup();
	if (getenv("FLEETD_TEST_KEEP") == NULL && rc == 0)
		nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		fprintf(stderr, "kept %s\n", tmp);
	return rc;
}

/* fleetd up (extra: configuration lines), the 2.0.0 image uploaded. */
static void bring_up_with(const char *extra)
{
	fleetd_config(&fd_, extra);
	fleetd_start(&fd_);
	make_image();
	upload_image();
}

static void bring_up(void)
{
	bring_up_with(NULL);
}

static void fleet(unsigned i, const char *prefix, unsigned n,
		  const char *labels, const char *bad)
{
	struct sim *s = &sims[i];

	snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
	s->n = n;
	s->labels = labels;
	s->bad = bad;
	s->seed = 11 + i;
	sim_start(s);
	wait_online(prefix, n);
}

/* ---- scenarios ----------------------------------------------------------- */

#define STAGES_3                                                               \
	"  - name: canary\n"                                                   \
	"    count: 2\n"                                                       \
	"  - name: wave-1\n"                                                   \
	"    percent: 50\n"                                                    \
	"  - name: wave-2\n"                                                   \
	"    percent: 100\n"

static void test_fleetd__basics(void **state)
{
	const char *v[] = {fleetd_bin, "--version", NULL};
	const char *bogus[] = {fleetd_bin, "--bogus", NULL};
	const char *novalue[] = {fleetd_bin, "--listen", NULL};
	const char *badbroker[] = {fleetd_bin, "--broker", "http://x", NULL};
	char bad_conf[PATH_LEN], err[PATH_LEN];
	const char *badc[] = {fleetd_bin, "--config", bad_conf, NULL};
	const char *second[] = {fleetd_bin, "--config", fd_.conf, NULL};
	char *text;
	pid_t b, b2;

	(void)state;
	path_of(err, sizeof(err), "cli.err");
	assert_int_equal(run_status(v, err), 0);
	assert_int_equal(run_status(bogus, err), 2);
	assert_int_equal(run_status(novalue, err), 2);
	assert_int_equal(run_status(badbroker, err), 2);
	/* A bad configuration: every problem at its line and column. */
	path_of(bad_conf, sizeof(bad_conf), "bad.yaml");
	write_text(bad_conf, "listen: 127.0.0.1:0\n"
			     "brokr: embedded\n"
			     "log_level: loud\n"
			     "broker_port: 70000\n");
	unlink(err);
	assert_int_equal(run_status(badc, err), 1);
	text = read_text(err);
	assert_non_null(text);
	assert_non_null(strstr(text, "bad.yaml:2:1: error: unknown key "
				     "`brokr`; did you mean `broker`?"));
	assert_non_null(strstr(text, "bad.yaml:3:12: error: `log_level`"));
	assert_non_null(strstr(text, "bad.yaml:4:14: error: `broker_port`"));
	free(text);

	/* Up, with its broker; a second fleetd on the same data refused. */
	bring_up();
	b = broker_pid(&fd_);
	assert_true(is_alive(b));
	unlink(err);
	assert_int_equal(run_status(second, err), 1);
	text = read_text(err);
	assert_non_null(strstr(text, "another fleetd uses"));
	free(text);
	{
		cJSON *st = get_json("/api/v1/status");
		const cJSON *br =
			cJSON_GetObjectItemCaseSensitive(st, "broker");

		assert_non_null(st);
		assert_true(cJSON_IsTrue(
			cJSON_GetObjectItemCaseSensitive(br, "embedded")));
		assert_true(cJSON_IsTrue(
			cJSON_GetObjectItemCaseSensitive(st, "ready")));
		cJSON_Delete(st);
	}

	/* SIGTERM: a clean stop, the broker with it. */
	kill(fd_.pid, SIGTERM);
	assert_int_equal(wait_pid(fd_.pid, 30000), 0);
	fd_.pid = -1;
	assert_false(is_alive(b));

	/* kill -9: the broker ends too (its death signal); the next start
	 * finds the stale broker.pid and starts on the same port. */
	fleetd_start(&fd_);
	b = broker_pid(&fd_);
	assert_true(is_alive(b));
	kill(fd_.pid, SIGKILL);
	assert_int_equal(wait_pid(fd_.pid, 10000), -SIGKILL);
	fd_.pid = -1;
	for (int i = 0; i < 250 && is_alive(b); i++)
		sleep_ms(20);
	assert_false(is_alive(b));
	fleetd_start(&fd_);
	b2 = broker_pid(&fd_);
	assert_true(is_alive(b2));
	assert_true(b2 != b);
	/* Stopped by SIGINT as well. */
	kill(fd_.pid, SIGINT);
	assert_int_equal(wait_pid(fd_.pid, 30000), 0);
	fd_.pid = -1;
	assert_false(is_alive(b2));

	/* A broker of a previous fleetd that still runs (its broker.pid
	 * and its command line say so) is stopped before ours starts. */
	{
		char conf[PATH_LEN + 32], pidf[PATH_LEN + 32], line[32];
		const char *mq[] = {mosquitto_bin, "-c", conf, NULL};
		pid_t stale;

		snprintf(conf, sizeof(conf), "%s/mosquitto/mosquitto.conf",
			 fd_.data);
		snprintf(pidf, sizeof(pidf), "%s/mosquitto/broker.pid",
			 fd_.data);
		stale = spawn(mq, NULL, NULL);
		for (int i = 0; i < 250 && !can_connect(fd_.broker_port); i++)
			sleep_ms(20);
		assert_true(can_connect(fd_.broker_port));
		snprintf(line, sizeof(line), "%ld\n", (long)stale);
		write_text(pidf, line);
		fleetd_start(&fd_);
		assert_true(wait_pid(stale, 10000) != -1000);
		assert_true(broker_pid(&fd_) != stale);
		text = read_text(fd_.log);
		assert_non_null(strstr(text, "of a previous fleetd still "
					     "runs: stopping it"));
		free(text);
		kill(fd_.pid, SIGTERM);
		assert_int_equal(wait_pid(fd_.pid, 30000), 0);
		fd_.pid = -1;
	}

	/* The configured broker port taken by something else: refused,
	 * with the reason. */
	{
		struct sockaddr_in a;
		int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
		const char *again[] = {fleetd_bin, "--config", fd_.conf, NULL};

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons(fd_.broker_port);
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(listen(s, 4), 0);
		unlink(err);
		assert_int_equal(run_status(again, err), 1);
		close(s);
		text = read_text(err);
		assert_non_null(strstr(text, "is in use"));
		free(text);
	}
}

/* ---- what fleetd publishes, seen by another MQTT 5 client ---------------- */

struct watch {
	pthread_mutex_t lock;
	unsigned n, n_qos1, n_retained, n_expiry_ok;
	uint32_t min_expiry, max_expiry;
};

static struct watch watch = {
	PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, UINT32_MAX, 0};

static void on_watch(struct mosquitto *m, void *obj,
		     const struct mosquitto_message *msg,
		     const mosquitto_property *props)
{
	uint32_t expiry = 0;
	bool has_expiry = mosquitto_property_read_int32(
				  props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
				  &expiry, false) != NULL;

	(void)m;
	(void)obj;
	pthread_mutex_lock(&watch.lock);
	watch.n++;
	watch.n_qos1 += msg->qos == 1;
	watch.n_retained += msg->retain;
	if (has_expiry) {
		/* offer_ttl 1h: expires - now, less the time in flight */
		watch.n_expiry_ok += expiry <= 3600 && expiry >= 3540;
		if (expiry < watch.min_expiry)
			watch.min_expiry = expiry;
		if (expiry > watch.max_expiry)
			watch.max_expiry = expiry;
	}
	pthread_mutex_unlock(&watch.lock);
}

/* Subscribes to every device's cmd topic, retain flags as published. */
static struct mosquitto *watch_start(void)
{
	struct mosquitto *m;

	mosquitto_lib_init();
	m = mosquitto_new(NULL, true, NULL);
	assert_non_null(m);
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_message_v5_callback_set(m, on_watch);
	assert_int_equal(mosquitto_connect(m, "127.0.0.1", fd_.broker_port, 30),
			 0);
	assert_int_equal(
		mosquitto_subscribe_v5(m, NULL, "fleet/v1/dev/+/cmd", 1,
				       MQTT_SUB_OPT_RETAIN_AS_PUBLISHED, NULL),
		0);
	assert_int_equal(mosquitto_loop_start(m), 0);
	sleep_ms(200); /* the SUBACK */
	return m;
}

static void watch_stop(struct mosquitto *m)
{
	mosquitto_disconnect(m);
	mosquitto_loop_stop(m, false);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
}

/* fleetctl against this fleetd: its exit status, stdout in out. */
static int fleetctl(const char *out, const char *a1, const char *a2,
		    const char *a3)
{
	char err[PATH_LEN];
	const char *argv[] = {fleetctl_bin, "--server", fd_.api, a1,
			      a2,	    a3,		NULL};

	path_of(err, sizeof(err), "fleetctl.err");
	unlink(out);
	return wait_pid(spawn(argv, out, err), WAIT_S * 1000);
}

static void test_fleetd__good(void **state)
{
	struct mosquitto *w;

	(void)state;
	bring_up();
	fleet(0, "g", 8, NULL, NULL);
	w = watch_start();
	if (fleetctl_bin != NULL) {
		/* As an operator would: fleetctl rollout start FILE. */
		char plan[2048], file[PATH_LEN], out[PATH_LEN];
		char *text;

		plan_text(plan, sizeof(plan), "good-2.0.0", STAGES_3);
		path_of(file, sizeof(file), "good.yaml");
		path_of(out, sizeof(out), "fleetctl.out");
		write_text(file, plan);
		assert_int_equal(fleetctl(out, "rollout", "start", file), 0);
		text = read_text(out);
		assert_non_null(strstr(text, "started rollout good-2.0.0"));
		free(text);
	} else {
		start_rollout("good-2.0.0", STAGES_3);
	}
	wait_state("good-2.0.0", "complete");
	if (fleetctl_bin != NULL) {
		char out[PATH_LEN];
		cJSON *j;
		char *text;

		path_of(out, sizeof(out), "fleetctl.out");
		assert_int_equal(fleetctl(out, "--json", "rollout", "status"),
				 2); /* no name: a usage error */
		{
			const char *argv[] = {fleetctl_bin, "--server",
					      fd_.api,	    "--json",
					      "rollout",    "status",
					      "good-2.0.0", NULL};
			char err[PATH_LEN];

			path_of(err, sizeof(err), "fleetctl.err");
			unlink(out);
			assert_int_equal(
				wait_pid(spawn(argv, out, err), WAIT_S * 1000),
				0);
		}
		text = read_text(out);
		j = cJSON_Parse(text);
		assert_non_null(j);
		assert_string_equal(jstr(j, "state"), "complete");
		cJSON_Delete(j);
		free(text);
	}
	wait_versions("g", 8, "2.0.0");
	watch_stop(w);
	check_log_whole();
	check_one_decision_each("g", 8);
	assert_int_equal(count_events("decision.device_succeeded", NULL), 8);
	assert_true(has_event("decision.complete", NULL));
	assert_false(has_event("decision.rollback_started", NULL));
	/* Every offer went out QoS 1, not retained, with a message expiry
	 * of expires - now (docs/protocol.md, server rules). */
	assert_true(watch.n >= 8);
	assert_int_equal(watch.n_qos1, watch.n);
	assert_int_equal(watch.n_retained, 0);
	if (watch.n_expiry_ok != watch.n)
		fprintf(stderr, "message expiry %u..%u s\n", watch.min_expiry,
			watch.max_expiry);
	assert_int_equal(watch.n_expiry_ok, watch.n);
	assert_true(metric("fleet_commands_total{type=\"offer\"}") >=
		    (double)watch.n);
}

static void test_fleetd__canary(void **state)
{
	(void)state;
	bring_up();
	fleet(0, "c", 8, NULL, "2.0.0");
	start_rollout("bad-canary", STAGES_3);
	wait_state("bad-canary", "rolled_back");
	wait_versions("c", 8, "1.0.0");
	check_log_whole();
	check_one_decision_each("c", 8);
	assert_true(has_event("decision.rollback_started", NULL));
	/* Nobody beyond the canary was offered the bad version. */
	assert_true(count_events("decision.offer", NULL) >= 1);
	for (size_t i = 0; i < n_evs; i++)
		if (strcmp(evs[i].kind, "decision.offer") == 0)
			assert_string_equal(evs[i].stage, "canary");
	assert_int_equal(count_events("decision.stage_started", NULL), 1);
}

static void test_fleetd__wave(void **state)
{
	unsigned canary_ok = 0;

	(void)state;
	bring_up();
	fleet(0, "k", 3, "ring=canary", NULL);
	fleet(1, "m", 6, "ring=main", "2.0.0");
	start_rollout("bad-wave", "  - name: canary\n"
				  "    match: {ring: canary}\n"
				  "  - name: wave-1\n"
				  "    percent: 100\n");
	wait_state("bad-wave", "rolled_back");
	wait_versions("k", 3, "1.0.0");
	wait_versions("m", 6, "1.0.0");
	check_log_whole();
	check_one_decision_each("k", 3);
	check_one_decision_each("m", 6);
	/* The canary committed 2.0.0 and was taken back by the rollback. */
	for (unsigned d = 1; d <= 3; d++) {
		char id[32];

		snprintf(id, sizeof(id), "k-%06u", d);
		if (has_event("decision.device_succeeded", id))
			canary_ok++;
		assert_true(has_event("decision.rollback_device", id));
	}
	assert_int_equal(canary_ok, 3);
	/* The commands went out over MQTT: an offer to each device, a
	 * rollback to each device that was running 2.0.0 (the canary's end
	 * their rollback with a trial of the device's default length, so
	 * their results come later than this test waits). */
	assert_true(metric("fleet_commands_total{type=\"offer\"}") >= 9);
	assert_true(metric("fleet_commands_total{type=\"rollback\"}") >= 3);
	assert_true(metric("fleet_reports_total{topic=\"status\"}") > 0);
	assert_true(has_event("decision.stage_passed", NULL));
	assert_true(has_event("decision.stage_failed", NULL));
	assert_true(has_event("decision.rollback_started", NULL));
}

static void test_fleetd__kill(void **state)
{
	static const char *const points[] = {
		"decision.offer", "report.downloading", "decision.stage_passed",
		"decision.device_succeeded"};

	(void)state;
	bring_up();
	fleet(0, "x", 10, NULL, NULL);
	start_rollout("crashy", STAGES_3);
	for (unsigned i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		char *s;

		wait_event(points[i]);
		s = rollout_state("crashy");
		if (s != NULL && strcmp(s, "complete") == 0) {
			free(s);
			break;
		}
		free(s);
		kill(fd_.pid, SIGKILL);
		assert_int_equal(wait_pid(fd_.pid, 10000), -SIGKILL);
		fd_.pid = -1;
		fleetd_start(&fd_);
	}
	wait_state("crashy", "complete");
	wait_versions("x", 10, "2.0.0");
	check_log_whole();
	check_one_decision_each("x", 10);
	for (unsigned d = 1; d <= 10; d++) {
		char id[32];

		snprintf(id, sizeof(id), "x-%06u", d);
		assert_int_equal(count_events("decision.device_succeeded", id),
				 1);
		assert_true(has_event("report.committed", id));
	}
	assert_false(has_event("decision.device_failed", NULL));
	assert_true(fd_.starts >= 4);
}

static void test_fleetd__broker(void **state)
{
	pid_t b, b2 = -1;
	char *log;

	(void)state;
	/* Statuses and health through $share/fleetd/... as several fleetd
	 * instances would take them. */
	bring_up_with("shared_subscriptions: true\n");
	fleet(0, "b", 8, NULL, NULL);
	start_rollout("broker-restart", STAGES_3);
	wait_event("decision.offer");
	b = broker_pid(&fd_);
	assert_true(is_alive(b));
	kill(b, SIGKILL);
	for (int i = 0; i < 500; i++) {
		b2 = broker_pid(&fd_);
		if (b2 > 0 && b2 != b && is_alive(b2))
			break;
		sleep_ms(20);
	}
	assert_true(b2 > 0 && b2 != b);
	wait_state("broker-restart", "complete");
	wait_versions("b", 8, "2.0.0");
	check_log_whole();
	check_one_decision_each("b", 8);
	log = read_text(fd_.log);
	assert_non_null(strstr(log, "broker: mosquitto killed by signal 9"));
	assert_non_null(strstr(log, "mqtt: connection to 127.0.0.1"));
	free(log);
	{
		cJSON *st = get_json("/api/v1/status");
		const cJSON *br =
			cJSON_GetObjectItemCaseSensitive(st, "broker");

		assert_true(cJSON_IsTrue(
			cJSON_GetObjectItemCaseSensitive(br, "connected")));
		cJSON_Delete(st);
	}
}

static void test_fleetd__offline(void **state)
{
	(void)state;
	bring_up();
	fleet(0, "on", 3, "ring=canary", NULL);
	fleet(1, "late", 5, "ring=main", NULL);
	/* The late devices go away (their Wills say offline) before the
	 * rollout reaches them. */
	stop_pid(&sims[1].pid, SIGKILL);
	{
		uint64_t end = now_ms() + WAIT_S * 1000u;

		while (census("late", NULL).online > 0) {
			assert_true(now_ms() < end);
			sleep_ms(200);
		}
	}
	start_rollout("late-comers", "  - name: canary\n"
				     "    match: {ring: canary}\n"
				     "  - name: rest\n"
				     "    percent: 100\n");
	wait_versions("on", 3, "2.0.0");
	/* Their stage starts while they are away: they are unreached (no
	 * offer goes to a device known to be offline), and the stage waits
	 * for them rather than pass on no evidence. */
	{
		uint64_t end = now_ms() + WAIT_S * 1000u;
		unsigned n;

		for (;;) {
			read_events();
			n = count_events("decision.device_unreached", NULL);
			if (n >= 5)
				break;
			assert_true(now_ms() < end);
			sleep_ms(200);
		}
		assert_int_equal(n, 5);
		for (unsigned d = 1; d <= 5; d++) {
			char id[32];

			snprintf(id, sizeof(id), "late-%06u", d);
			assert_true(has_event("decision.device_unreached", id));
			assert_false(has_event("decision.offer", id));
		}
	}
	sleep_ms(1500); /* a few ticks: still waiting */
	{
		char *s = rollout_state("late-comers");

		assert_string_equal(s, "running");
		free(s);
	}
	/* They come back: offered then, and they install it. */
	sim_start(&sims[1]);
	wait_state("late-comers", "complete");
	wait_versions("late", 5, "2.0.0");
	check_log_whole();
	check_one_decision_each("late", 5);
	check_one_decision_each("on", 3);
	for (unsigned d = 1; d <= 5; d++) {
		char id[32];

		snprintf(id, sizeof(id), "late-%06u", d);
		assert_true(has_event("decision.offer", id));
		assert_int_equal(count_events("decision.device_succeeded", id),
				 1);
	}
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		struct CMUnitTest t;
	} all[] = {
		{"basics", cmocka_unit_test_setup_teardown(test_fleetd__basics,
							   setup, teardown)},
		{"good", cmocka_unit_test_setup_teardown(test_fleetd__good,
							 setup, teardown)},
		{"canary", cmocka_unit_test_setup_teardown(test_fleetd__canary,
							   setup, teardown)},
		{"wave", cmocka_unit_test_setup_teardown(test_fleetd__wave,
							 setup, teardown)},
		{"kill", cmocka_unit_test_setup_teardown(test_fleetd__kill,
							 setup, teardown)},
		{"broker", cmocka_unit_test_setup_teardown(test_fleetd__broker,
							   setup, teardown)},
		{"offline", cmocka_unit_test_setup_teardown(
				    test_fleetd__offline, setup, teardown)},
	};

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: test_fleetd SCENARIO FLEETD FLEET_SIM "
				"MOSQUITTO [FLEETCTL]\n");
		return 2;
	}
	scenario = argv[1];
	fleetd_bin = argv[2];
	sim_bin = argv[3];
	mosquitto_bin = argv[4];
	fleetctl_bin = argc == 6 ? argv[5] : NULL;
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i].name, scenario) == 0) {
			struct CMUnitTest t[1];

			t[0] = all[i].t;
			return cmocka_run_group_tests_name(scenario, t, NULL,
							   NULL);
		}
	fprintf(stderr, "test_fleetd: no scenario '%s'\n", scenario);
	return 2;
}
